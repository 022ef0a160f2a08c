using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Tollgate.Metering;

/// <summary>
/// What the metering pipeline decided, on the meter <c>Tollgate.Metering</c>: one count per metered request by
/// decision and route (and tenant, behind <see cref="TelemetryOptions.PerTenantMetrics"/>), and the same
/// facts as attributes of the request's server span when a tracer listens.
/// </summary>
internal sealed class MeteringMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Tollgate.Metering";

    private readonly Counter<long> _decisions;
    private readonly bool _perTenant;

    public MeteringMetrics(IMeterFactory meters, TelemetryOptions options)
    {
        _decisions = meters.Create(MeterName).CreateCounter<long>(
            "tollgate.metering.decisions", "{request}",
            "Metered requests by decision: admitted, quota, rate, unauthorized, suspended, unavailable");
        _perTenant = options.PerTenantMetrics;
    }

    /// <summary>Counts one decision. No allocation unless per-tenant series or tracing are on.</summary>
    public void Decided(HttpContext context, string decision, long tenantId = 0)
    {
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        if (_decisions.Enabled)
        {
            var tags = new TagList { { "tollgate.decision", decision }, { "http.route", route } };
            if (_perTenant && tenantId != 0)
            {
                tags.Add("tollgate.tenant.id", tenantId);
            }

            _decisions.Add(1, tags);
        }

        // Null unless a tracer listens (OTLP configured): then the server span carries the decision.
        if (Activity.Current is { } activity)
        {
            activity.SetTag("tollgate.decision", decision);
            if (tenantId != 0)
            {
                activity.SetTag("tollgate.tenant.id", tenantId);
            }
        }
    }
}

/// <summary>The values of <c>tollgate.decision</c>.</summary>
internal static class MeteringDecision
{
    public const string Admitted = "admitted";
    public const string Quota = "quota";
    public const string Rate = "rate";
    public const string Unauthorized = "unauthorized";
    public const string Suspended = "suspended";
    public const string Unavailable = "unavailable";
}
