using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Tollgate.Webhooks;

/// <summary>Options bound from <c>Tollgate:Webhooks</c>.</summary>
public sealed class WebhookOptions : IValidatableObject
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Webhooks";

    /// <summary>The retry schedule of CONTRACT §9: the delays after the 1st, 2nd, … failed attempt; then the message fails.</summary>
    public static readonly IReadOnlyList<TimeSpan> ContractSchedule =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
        TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    /// <summary>
    /// <c>true</c> lets webhook URLs reach loopback, private and link-local addresses (checked when an endpoint is saved
    /// and again on the address each delivery connects to). Default: <c>false</c>.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>How long a receiver has to answer one attempt before it counts as a timeout. Default: 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the dispatcher looks for new alerts and due messages. Default: 1 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a claimed message is this instance's to send; after it (the instance died mid-attempt) another instance
    /// may claim it. Longer than <see cref="Timeout"/>. Default: 1 min.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The retry delays, comma-separated time spans (<c>00:00:05,00:05:00,…</c>). Default: unset, which is CONTRACT §9's
    /// schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). Tests set short delays; an operator has no reason to.
    /// </summary>
    public string? RetrySchedule { get; set; }

    /// <summary>The schedule in force.</summary>
    public IReadOnlyList<TimeSpan> Retries => RetrySchedule is null ? ContractSchedule : Parse(RetrySchedule) ?? ContractSchedule;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Timeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult("Tollgate:Webhooks:Timeout must be positive.");
        }

        if (PollInterval <= TimeSpan.Zero)
        {
            yield return new ValidationResult("Tollgate:Webhooks:PollInterval must be positive.");
        }

        if (LeaseDuration <= Timeout)
        {
            yield return new ValidationResult("Tollgate:Webhooks:LeaseDuration must be longer than Tollgate:Webhooks:Timeout.");
        }

        if (RetrySchedule is not null && Parse(RetrySchedule) is null)
        {
            yield return new ValidationResult("Tollgate:Webhooks:RetrySchedule must be comma-separated positive time spans, e.g. 00:00:05,00:05:00.");
        }
    }

    private static TimeSpan[]? Parse(string schedule)
    {
        var parts = schedule.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var delays = new TimeSpan[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!TimeSpan.TryParse(parts[i], CultureInfo.InvariantCulture, out delays[i]) || delays[i] <= TimeSpan.Zero)
            {
                return null;
            }
        }

        return delays.Length == 0 ? null : delays;
    }
}
