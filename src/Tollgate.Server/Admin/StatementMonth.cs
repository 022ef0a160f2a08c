using System.Globalization;

namespace Tollgate.Admin;

/// <summary>A calendar month in UTC, as statements name it: <c>2026-11</c>.</summary>
/// <param name="Year">The year, from 1970 to 8999.</param>
/// <param name="Month">The month, 1 to 12.</param>
internal readonly record struct StatementMonth(int Year, int Month)
{
    /// <summary>Earliest month a request may name (the start of the usage filter's range).</summary>
    public static readonly StatementMonth Earliest = new(1970, 1);

    /// <summary>Latest month a request may name: its end stays inside the usage filter's range and far from <see cref="DateTime.MaxValue"/>.</summary>
    public static readonly StatementMonth Latest = new(8999, 12);

    /// <summary>Months since year 0: the distance between two months is the difference of their ordinals.</summary>
    public int Ordinal => Year * 12 + Month - 1;

    /// <summary>The month's first instant (UTC).</summary>
    public DateTime Start => new(Year, Month, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>The next month's first instant (UTC): the month's end, exclusive.</summary>
    public DateTime End => Start.AddMonths(1);

    /// <summary>The month <paramref name="count"/> months later (earlier when negative).</summary>
    public StatementMonth Plus(int count) => FromOrdinal(Ordinal + count);

    /// <summary>The month a UTC time falls into.</summary>
    public static StatementMonth Of(DateTime utc) => new(utc.Year, utc.Month);

    /// <summary>The month of an <see cref="Ordinal"/>.</summary>
    public static StatementMonth FromOrdinal(int ordinal) => new(ordinal / 12, ordinal % 12 + 1);

    /// <summary>
    /// Reads <c>YYYY-MM</c>; null when absent, or (with an error under <paramref name="field"/>) when it is anything else:
    /// exactly four digits, a dash and two digits, so that <c>2026-1</c> or <c>2026-01-15</c> are not guessed at.
    /// </summary>
    public static StatementMonth? Parse(string? value, string field, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (value.Length == 7 && value[4] == '-'
            && int.TryParse(value.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var year)
            && int.TryParse(value.AsSpan(5, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var month)
            && month is >= 1 and <= 12)
        {
            var parsed = new StatementMonth(year, month);
            if (parsed.Ordinal >= Earliest.Ordinal && parsed.Ordinal <= Latest.Ordinal)
            {
                return parsed;
            }
        }

        errors[field] = [$"'{field}' must be a month as YYYY-MM, from {Earliest} to {Latest}, e.g. 2026-11."];
        return null;
    }

    /// <summary>The month as the API writes it: <c>2026-11</c>.</summary>
    public override string ToString() =>
        Year.ToString("0000", CultureInfo.InvariantCulture) + "-" + Month.ToString("00", CultureInfo.InvariantCulture);
}
