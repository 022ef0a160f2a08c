using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>Enum names as stored in the database, without the allocation of <c>Enum.ToString()</c>.</summary>
internal static class EnumNames
{
    private static readonly string[] Outcomes = Enum.GetNames<LimitOutcome>();
    private static readonly string[] Periods = Enum.GetNames<QuotaPeriod>();

    public static string Of(LimitOutcome outcome) => Outcomes[(int)outcome];

    public static string Of(QuotaPeriod period) => Periods[(int)period];
}
