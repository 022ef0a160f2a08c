using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tollgate.Data;
using Tollgate.Usage;

namespace Tollgate.Operations;

/// <summary>
/// The database and usage storage part of <c>/readyz</c>. Answers within <see cref="Timeout"/> whatever the database
/// does: Healthy when the database answers and usage goes into it; Degraded (still 200) while usage is spooled or
/// rows are dropped under Admit, or the database does not answer but usage could still be spooled; Unhealthy (503)
/// while metered requests are refused because nothing can record them.
/// </summary>
internal sealed class StorageHealthCheck(IServiceScopeFactory scopes, UsageStorageStatus storage, TimeProvider time) : IHealthCheck
{
    /// <summary>The longest the database is given to answer; /readyz must answer within 1 s.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(700);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var state = storage.State;
        if (state == UsageStorageState.Refusing)
        {
            return HealthCheckResult.Unhealthy(
                "Neither the database nor the spool takes usage events: metered requests are refused with 503.", data: Data());
        }

        // During an outage the writer's retries (every second at most) already say whether the database answers;
        // asking it again here would only add connection attempts to a server that is struggling.
        return state switch
        {
            UsageStorageState.Spooling => HealthCheckResult.Degraded(
                $"Usage events are spooled to local disk ({storage.SpooledEvents} waiting) until the database takes them.", data: Data()),
            UsageStorageState.Dropping => HealthCheckResult.Degraded(
                $"Usage storage fails: requests are served without their raw rows ({storage.DroppedRows} dropped since start).", data: Data()),
            _ when await DatabaseAnswersAsync(cancellationToken) => HealthCheckResult.Healthy(),
            _ => HealthCheckResult.Degraded(
                $"The database does not answer within {Timeout.TotalMilliseconds} ms; usage events will go to the spool.", data: Data()),
        };
    }

    private async Task<bool> DatabaseAnswersAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        var check = CanConnectAsync(timeout.Token);
        try
        {
            // WaitAsync as well as the token: a driver blocked in a synchronous call does not look at the token.
            return await check.WaitAsync(Timeout, time, ct);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            _ = check.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            return false;
        }
    }

    private async Task<bool> CanConnectAsync(CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<TollgateDbContext>().Database.CanConnectAsync(ct);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return false;
        }
    }

    private Dictionary<string, object> Data() => new()
    {
        ["state"] = storage.State.ToString(),
        ["spooledEvents"] = storage.SpooledEvents,
        ["droppedRows"] = storage.DroppedRows,
    };
}
