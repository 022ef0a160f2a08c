using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.HttpResults;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Admin;

/// <summary>
/// The live table (<c>/api/dashboard-data</c>) and its push stream (<c>/api/admin/stream</c>). Built from memory
/// only — the tenant directory, the limit store and the live counters — so its cost does not grow with history.
/// </summary>
internal static class DashboardApi
{
    /// <summary>Maps <c>/api/dashboard-data</c> and the stream on the admin group.</summary>
    public static void Map(IEndpointRouteBuilder routes, RouteGroupBuilder admin)
    {
        routes.MapGet("/api/dashboard-data", GetAsync).RequireAuthorization(AdminPolicies.Admin).WithTags("Dashboard");
        admin.MapGet("/stream", Stream).WithTags("Dashboard");
    }

    private static async Task<Ok<DashboardDto>> GetAsync(
        HttpContext http, TenantDirectory tenants, ILimitStore limits, ILiveUsageView live, UsageStorageStatus storage, TimeProvider time, CancellationToken ct) =>
        TypedResults.Ok(await SnapshotAsync(AdminScope.From(http.User), tenants, limits, live, storage, time, ct));

    private static ServerSentEventsResult<DashboardDto> Stream(
        HttpContext http, TenantDirectory tenants, ILimitStore limits, ILiveUsageView live, UsageStorageStatus storage, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        // The stream ends when the client goes or the server starts stopping, so an open dashboard never holds up
        // a graceful stop.
        var ended = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        http.Response.RegisterForDispose(ended);
        return TypedResults.ServerSentEvents(Snapshots(AdminScope.From(http.User), tenants, limits, live, storage, time, ended.Token), "snapshot");
    }

    private static async IAsyncEnumerable<DashboardDto> Snapshots(
        AdminScope scope, TenantDirectory tenants, ILimitStore limits, ILiveUsageView live, UsageStorageStatus storage, TimeProvider time,
        [EnumeratorCancellation] CancellationToken ct)
    {
        // Twice a second, so a change shows within one second however the timers line up.
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500), time);
        do
        {
            yield return await SnapshotAsync(scope, tenants, limits, live, storage, time, ct);
        }
        while (await WaitAsync(timer, ct));
    }

    private static async ValueTask<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One snapshot of the live table, of the tenants <paramref name="scope"/> may see.</summary>
    internal static async Task<DashboardDto> SnapshotAsync(
        AdminScope scope, TenantDirectory tenants, ILimitStore limits, ILiveUsageView live, UsageStorageStatus storage, TimeProvider time,
        CancellationToken ct)
    {
        // Every peek is started before the first is awaited: with Redis the reads leave as one pipeline instead of a
        // round trip per tenant (1,000 tenants, Redis on loopback, median of 40: 49.7 → 10.1 ms); in process they
        // are complete already.
        var visible = tenants.All.Where(t => scope.CanSee(t.Id)).ToList();
        var peeks = new Task<QuotaUsage>[visible.Count];
        for (var i = 0; i < visible.Count; i++)
        {
            peeks[i] = limits.PeekAsync(visible[i], ct).AsTask();
        }

        await Task.WhenAll(peeks);

        var rows = new List<DashboardTenantDto>(visible.Count);
        for (var i = 0; i < visible.Count; i++)
        {
            var tenant = visible[i];
            var usage = peeks[i].Result;
            var stats = live.StatsOf(tenant.Id);
            rows.Add(new DashboardTenantDto(
                tenant.Id, tenant.Name, tenant.PlanName, usage.Used, usage.Limit, usage.Remaining, usage.Status,
                stats.Requests, stats.P95LatencyMs, stats.ErrorRate, usage.ResetAt, tenant.Status));
        }

        return new DashboardDto(
            time.GetUtcNow().UtcDateTime,
            rows,
            new DashboardStorageDto(storage.State, storage.Since, storage.SpooledEvents, storage.DroppedRows, storage.RefusedRequests));
    }
}
