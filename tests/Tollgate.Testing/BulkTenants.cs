using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Changes;
using Tollgate.Data;

namespace Tollgate.Testing;

/// <summary>
/// Many tenants at once, inserted with one SQL statement as bench/sql/tenants.sql does (the admin API would take
/// minutes for 100,000), then the app's tenant directory reloaded through the change feed as an admin change would.
/// </summary>
public static class BulkTenants
{
    /// <summary>
    /// Inserts <paramref name="count"/> tenants named <c>{prefix} 000001</c>… on the plan <paramref name="planName"/>
    /// (created with the quota when missing) and answers how long the insert and the reload took.
    /// </summary>
    public static async Task<(TimeSpan Insert, TimeSpan Reload)> AddAsync(
        TollgateApp app, int count, string prefix, string planName = "Bulk", long quota = 1_000_000)
    {
        var clock = Stopwatch.StartNew();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var plan = await db.Plans.FirstOrDefaultAsync(p => p.Name == planName);
            if (plan is null)
            {
                plan = new Plan { Name = planName, QuotaLimit = quota, QuotaPeriod = QuotaPeriod.Month };
                db.Plans.Add(plan);
                await db.SaveChangesAsync();
            }

            if (db.Database.IsSqlite())
            {
                // One statement: 100,000 tenants in well under a second (EF's batched inserts took seconds).
                await db.Database.ExecuteSqlRawAsync(
                    """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {0})
                    INSERT INTO tenants (name, plan_id, status, created_at)
                    SELECT {1} || ' ' || printf('%06d', i), {2}, 'Active', strftime('%Y-%m-%d %H:%M:%f', 'now') FROM n
                    """,
                    count, prefix, plan.Id);
            }
            else
            {
                // PostgreSQL and MariaDB have neither printf nor the same string concatenation; EF's batched inserts
                // speak each dialect (the tests that run there use hundreds of tenants, not 100,000).
                db.ChangeTracker.AutoDetectChangesEnabled = false;
                var now = DateTime.UtcNow;
                for (var i = 1; i <= count; i++)
                {
                    db.Tenants.Add(new Tenant { Name = $"{prefix} {i:D6}", PlanId = plan.Id, Status = TenantStatus.Active, CreatedAt = now });
                }

                await db.SaveChangesAsync();
            }
        }

        var insert = clock.Elapsed;
        clock.Restart();
        await app.Services.GetRequiredService<IChangeFeed>().TenantsChangedAsync();
        return (insert, clock.Elapsed);
    }
}
