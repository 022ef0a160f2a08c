using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Admin;

/// <summary>
/// The demo: plans Basic and Pro, tenants <c>Acme Corp</c> and <c>Wayne Ent</c> with users, a fresh key each, and
/// simulated past traffic stored through the same batch store as live traffic (raw rows, roll-ups and quota
/// counters alike), so every screen has something to show.
/// </summary>
/// <param name="scopes">Makes the scope of the database context a run uses.</param>
/// <param name="changes">Tells every instance what a run changed.</param>
/// <param name="store">Writes the simulated history.</param>
/// <param name="time">The clock.</param>
public sealed class DemoData(
    IServiceScopeFactory scopes,
    IChangeFeed changes,
    IUsageBatchStore store,
    TimeProvider time)
{
    private static readonly (string Name, string Plan, string[] Users, int RequestsPerDay)[] Tenants =
    [
        ("Acme Corp", "Basic", ["alice@acme.com", "bob@acme.com"], 40),
        ("Wayne Ent", "Pro", ["bruce@wayne.com"], 2_400),
    ];

    private static readonly (string Method, string Endpoint, int Weight)[] Endpoints =
    [
        ("GET", "/api/v1/users", 50),
        ("GET", "/api/v1/users/{id}", 30),
        ("POST", "/api/v1/users", 10),
        ("GET", "/api/v1/ping", 10),
    ];

    /// <summary>
    /// Creates what is missing of the demo; deletes the demo tenants and their usage first when asked. Everything the
    /// call changes in the admin tables commits in one transaction with its audit entries, or nothing does; the
    /// simulated history is written after it, through the batch store.
    /// </summary>
    /// <param name="reset">Delete the two demo tenants (and their keys, users and usage) before creating them again.</param>
    /// <param name="historyDays">Days of simulated traffic for tenants this call creates (0–90).</param>
    /// <param name="actor">Who asked, for the audit log.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <param name="createKeys">Make a key per tenant and return it (false on the unattended first start, where nobody would see it).</param>
    public async Task<SetupResponse> RunAsync(
        bool reset, int historyDays, AdminScope actor, CancellationToken cancellationToken, bool createKeys = true)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var now = time.GetUtcNow().UtcDateTime;
        var results = new List<SetupTenantDto>();
        var histories = new List<(TenantContext Tenant, long KeyId, int PerDay)>();
        var removed = new List<long>();
        var keys = new List<ApiKey>();
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            if (reset)
            {
                removed = await DeleteDemoTenantsAsync(db, actor, cancellationToken);
            }

            var plans = new Dictionary<string, Plan>
            {
                ["Basic"] = await EnsurePlanAsync(db, actor, "Basic", 1_000, null, null, now, cancellationToken),
                ["Pro"] = await EnsurePlanAsync(db, actor, "Pro", 100_000, 50, 1, now, cancellationToken),
            };

            foreach (var (name, planName, users, perDay) in Tenants)
            {
                var tenant = await db.Tenants.FirstOrDefaultAsync(t => t.Name == name, cancellationToken);
                var created = tenant is null;
                if (tenant is null)
                {
                    tenant = new Tenant { Name = name, PlanId = plans[planName].Id, Status = TenantStatus.Active, CreatedAt = now };
                    db.Tenants.Add(tenant);
                    await db.SaveChangesAsync(cancellationToken);
                    foreach (var user in users)
                    {
                        db.Users.Add(new User { TenantId = tenant.Id, Username = user, CreatedAt = now });
                    }
                }

                string? key = null;
                ApiKey? entity = null;
                if (createKeys)
                {
                    (key, entity) = KeyService.NewKey(tenant.Id, "demo", now, null);
                    db.ApiKeys.Add(entity);
                    keys.Add(entity);
                }

                await AuditTrail.SaveWithEntryAsync(db, () => AuditTrail.Add(db, time, actor, "setup.demo", $"tenant/{tenant.Id}", tenant.Id,
                    new { created, keyCreated = createKeys, historyDays }), cancellationToken);
                results.Add(new SetupTenantDto(tenant.Id, tenant.Name, key));
                if (created && historyDays > 0)
                {
                    var plan = plans[planName];
                    histories.Add((TenantContext.From(tenant, plan), entity?.Id ?? 0, perDay));
                }
            }

            await transaction.CommitAsync(cancellationToken);
        }

        // Only what committed is announced: a failed setup leaves every instance's caches as they were.
        foreach (var id in removed)
        {
            await changes.TenantRemovedAsync(id, cancellationToken);
        }

        foreach (var entity in keys)
        {
            await changes.KeyCreatedAsync(KeyHash.FromBytes(entity.Hash), cancellationToken);
        }

        await changes.TenantsChangedAsync(cancellationToken);
        if (histories.Count > 0)
        {
            await SimulateHistoryAsync(histories, historyDays, now, cancellationToken);
            foreach (var (tenant, _, _) in histories)
            {
                // The simulated traffic of the current period now counts against the quota: reload it.
                await changes.UsageRewrittenAsync(tenant.Id, cancellationToken);
            }
        }

        return new SetupResponse(results);
    }

    private async Task<Plan> EnsurePlanAsync(
        TollgateDbContext db, AdminScope actor, string name, long quota, int? rate, int? window, DateTime now, CancellationToken ct)
    {
        var plan = await db.Plans.FirstOrDefaultAsync(p => p.Name == name, ct);
        if (plan is null)
        {
            plan = new Plan { Name = name, QuotaLimit = quota, QuotaPeriod = QuotaPeriod.Month, RateLimit = rate, RateWindowSeconds = window, CreatedAt = now };
            db.Plans.Add(plan);
            await AuditTrail.SaveWithEntryAsync(db, () =>
                AuditTrail.Add(db, time, actor, "plan.create", $"plan/{plan.Id}", null, PlanDto.From(plan)), ct);
        }

        return plan;
    }

    /// <summary>Deletes the demo tenants with their usage, keys and users; answers their ids.</summary>
    private async Task<List<long>> DeleteDemoTenantsAsync(TollgateDbContext db, AdminScope actor, CancellationToken ct)
    {
        var names = Tenants.Select(t => t.Name).ToArray();
        var doomed = await db.Tenants.AsNoTracking().Where(t => names.Contains(t.Name)).Select(t => new { t.Id, t.Name }).ToListAsync(ct);
        var ids = doomed.Select(t => t.Id).ToList();
        // Through the usage tables' owner, in this context's transaction.
        await Usage.UsageRecords.DeleteAsync(db, ids, ct);
        await db.Tenants.Where(t => ids.Contains(t.Id)).ExecuteDeleteAsync(ct);
        foreach (var tenant in doomed)
        {
            AuditTrail.Add(db, time, actor, "setup.reset", $"tenant/{tenant.Id}", tenant.Id, new { tenant.Name });
        }

        await db.SaveChangesAsync(ct);
        return ids;
    }

    /// <summary>
    /// A day-shaped curve (quiet at night UTC, busy mid-afternoon), a few client errors, rare server errors,
    /// and log-normal latencies. Seeded by the tenant id, so the same demo looks the same each time.
    /// </summary>
    /// <remarks>
    /// All tenants' events are written together, hour by hour and in time order within the hour, as live traffic
    /// arrives: the raw log's ids then follow time, which the retention clean-up relies on (it deletes the raw log by id ranges).
    /// Written tenant after tenant, ids went through time once per tenant, and the clean-up's search found the boundary
    /// of only one of them.
    /// </remarks>
    private async Task SimulateHistoryAsync(
        List<(TenantContext Tenant, long KeyId, int PerDay)> tenants, int days, DateTime now, CancellationToken ct)
    {
#pragma warning disable CA5394 // Simulated traffic, not security.
        var randoms = tenants.Select(t => new Random((int)t.Tenant.Id)).ToArray();
        var batch = new UsageBatch(5_000);
        var hourEvents = new List<UsageEvent>();
        var totalWeight = Endpoints.Sum(e => e.Weight);
        var from = now.AddDays(-days);
        for (var hour = new DateTime(from.Ticks - from.Ticks % TimeSpan.TicksPerHour, DateTimeKind.Utc); hour < now; hour = hour.AddHours(1))
        {
            var shape = 0.35 + 0.65 * Math.Max(0, Math.Sin((hour.Hour - 6) / 24.0 * 2 * Math.PI));
            hourEvents.Clear();
            for (var t = 0; t < tenants.Count; t++)
            {
                var (tenant, keyId, perDay) = tenants[t];
                var random = randoms[t];
                var count = (int)(perDay / 24.0 * shape * 2 * (0.8 + 0.4 * random.NextDouble()));
                for (var i = 0; i < count; i++)
                {
                    var at = hour.AddTicks((long)(random.NextDouble() * TimeSpan.TicksPerHour));
                    if (at >= now)
                    {
                        continue;
                    }

                    var pick = random.Next(totalWeight);
                    var endpoint = Endpoints[0];
                    foreach (var candidate in Endpoints)
                    {
                        if ((pick -= candidate.Weight) < 0)
                        {
                            endpoint = candidate;
                            break;
                        }
                    }

                    var roll = random.NextDouble();
                    var status = roll < 0.005 ? 500 : roll < 0.03 ? 404 : endpoint.Method == "POST" ? 201 : 200;
                    var latency = (long)(Math.Exp(7.6 + 0.7 * NextGaussian(random)) * (status == 500 ? 3 : 1));
                    var period = tenant.Policy.QuotaPeriod;
                    hourEvents.Add(new UsageEvent(tenant.Id, keyId, at, endpoint.Method, endpoint.Endpoint, status, latency,
                        LimitOutcome.Admitted, period, QuotaPeriods.StartOf(period, at)));
                }
            }

            hourEvents.Sort((a, b) => a.Timestamp.CompareTo(b.Timestamp));
            foreach (var e in hourEvents)
            {
                batch.Add(e);
                if (batch.Count == 5_000)
                {
                    await store.WriteAsync(batch, ct);
                    batch.Clear();
                }
            }
        }

        if (batch.Count > 0)
        {
            await store.WriteAsync(batch, ct);
        }
#pragma warning restore CA5394
    }

    private static double NextGaussian(Random random)
    {
#pragma warning disable CA5394
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
#pragma warning restore CA5394
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
