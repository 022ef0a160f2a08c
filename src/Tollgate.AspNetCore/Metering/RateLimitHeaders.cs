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

        headers[Policy] = decision.HasRate
            ? string.Create(inv, $"\"quota\";q={quota.Limit};w={quotaWindow}, \"rate\";q={decision.RateLimit};w={decision.RateWindowSeconds}")
            : string.Create(inv, $"\"quota\";q={quota.Limit};w={quotaWindow}");

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

        headers[XLimit] = quota.Limit.ToString(inv);
        headers[XRemaining] = quota.Remaining.ToString(inv);
        headers[XReset] = new DateTimeOffset(quota.ResetAt).ToUnixTimeSeconds().ToString(inv);

        if (!decision.Admitted)
        {
            var retryAfter = decision.Outcome == LimitOutcome.RateLimited ? rateReset : quotaReset;
            headers[HeaderNames.RetryAfter] = Math.Max(1, retryAfter).ToString(inv);
        }
    }

    /// <summary>Whole seconds until <paramref name="at"/>, rounded up so a client never retries too early.</summary>
    public static long SecondsUntil(DateTime at, DateTime now) =>
        Math.Max(0, (long)Math.Ceiling((at - now).TotalSeconds));
}
