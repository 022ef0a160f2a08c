using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using OtpNet;
using Tollgate.Data;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>
/// Every admin change commits in one transaction with its audit entry, or not at all. The audit table is made to
/// refuse inserts in the real database (a trigger, on each provider), then each kind of change is tried through the
/// HTTP API: it must answer a problem (the error handler's 500, as for any database failure), and no table may differ
/// afterwards, the change's own rows included.
/// </summary>
public sealed class AuditAtomicityTests
{
    private const string Password = "a-long-enough-password";

    [Fact]
    public async Task AuditWriteFails_PlanTenantAndRouteChanges_AreRefusedAndChangeNothing()
    {
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(1000);
        using var admin = await app.AdminClientAsync();
        var emptyPlan = await IdOf(await admin.PostAsJsonAsync("/api/admin/plans", new { name = "unused", quota = new { limit = 5, period = "Day" } }));
        var route = await IdOf(await admin.PostAsJsonAsync("/api/admin/routes", new { path = "/orders/{**rest}", upstream = "http://127.0.0.1:9/" }));
        using var tenantClient = app.TenantClient(tenant.ApiKey);

        await using (await AuditRefusal.StartAsync(app.Database))
        {
            await AssertRefusedAsync(app, "plan create", () => admin.PostAsJsonAsync("/api/admin/plans", new { name = "refused", quota = new { limit = 5, period = "Day" } }));
            await AssertRefusedAsync(app, "plan update", () => admin.PatchJsonAsync($"/api/admin/plans/{tenant.PlanId}", new { quota = new { limit = 1, period = "Day" } }));
            await AssertRefusedAsync(app, "plan delete", () => admin.DeleteAsync($"/api/admin/plans/{emptyPlan}"));
            await AssertRefusedAsync(app, "tenant create", () => admin.PostAsJsonAsync("/api/admin/tenants", new { name = "refused", planId = tenant.PlanId }));
            await AssertRefusedAsync(app, "tenant suspend", () => admin.PatchJsonAsync($"/api/admin/tenants/{tenant.Id}", new { status = "Suspended" }));
            await AssertRefusedAsync(app, "tenant delete", () => admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}"));
            await AssertRefusedAsync(app, "route create", () => admin.PostAsJsonAsync("/api/admin/routes", new { path = "/refused/{**rest}", upstream = "http://127.0.0.1:9/" }));
            await AssertRefusedAsync(app, "route update", () => admin.PatchJsonAsync($"/api/admin/routes/{route}", new { cost = 5 }));
            await AssertRefusedAsync(app, "route delete", () => admin.DeleteAsync($"/api/admin/routes/{route}"));

            // Nothing was announced either: the tenant is neither suspended nor gone on this instance.
            Assert.Equal(HttpStatusCode.OK, (await tenantClient.GetAsync("/api/v1/ping")).StatusCode);
        }

        // With the audit table writable again the same change goes through: the refusals above were the audit's.
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/admin/plans", new { name = "refused", quota = new { limit = 5, period = "Day" } })).StatusCode);
    }

    [Fact]
    public async Task AuditWriteFails_KeyCreateRotateAndRevoke_AreRefusedAndChangeNothing()
    {
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(1000);
        using var admin = await app.AdminClientAsync();
        using var tenantClient = app.TenantClient(tenant.ApiKey);

        await using (await AuditRefusal.StartAsync(app.Database))
        {
            await AssertRefusedAsync(app, "key create", () => admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys", new { name = "refused" }));
            await AssertRefusedAsync(app, "key rotate", () => admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}/rotate", new { gracePeriodSeconds = 0 }));
            await AssertRefusedAsync(app, "key revoke", () => admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}"));

            // Neither the rotation (grace 0) nor the revocation reached the key cache.
            Assert.Equal(HttpStatusCode.OK, (await tenantClient.GetAsync("/api/v1/ping")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
    }

    [Fact]
    public async Task AuditWriteFails_AdminAccountPasswordAndTwoFactorChanges_AreRefusedAndChangeNothing()
    {
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(1000);
        using var admin = await app.AdminClientAsync();
        var viewer = await IdOf(await admin.PostAsJsonAsync("/api/admin/admins", new { username = "viewer", role = "Viewer", tenantId = (long?)null, password = Password }));
        using var pending = await app.AdminClientAsync("Viewer", null, "pending-2fa");
        var pendingSecret = (await (await pending.PostAsJsonAsync("/api/auth/totp/setup", new { })).ReadJsonAsync()).GetProperty("secret").GetString()!;
        using var enabled = await app.AdminClientAsync("Viewer", null, "enabled-2fa");
        var enabledSecret = (await (await enabled.PostAsJsonAsync("/api/auth/totp/setup", new { })).ReadJsonAsync()).GetProperty("secret").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await enabled.PostAsJsonAsync("/api/auth/totp/enable", new { code = new Totp(Base32Encoding.ToBytes(enabledSecret)).ComputeTotp() })).StatusCode);
        using var secondSession = await app.AdminClientAsync();

        await using (await AuditRefusal.StartAsync(app.Database))
        {
            await AssertRefusedAsync(app, "admin create", () => admin.PostAsJsonAsync("/api/admin/admins", new { username = "refused", role = "TenantAdmin", tenantId = tenant.Id, password = Password }));
            await AssertRefusedAsync(app, "admin role change", () => admin.PatchJsonAsync($"/api/admin/admins/{viewer}", new { role = "TenantAdmin", tenantId = tenant.Id }));
            await AssertRefusedAsync(app, "admin password reset", () => admin.PatchJsonAsync($"/api/admin/admins/{viewer}", new { password = "another-long-password" }));
            await AssertRefusedAsync(app, "admin delete", () => admin.DeleteAsync($"/api/admin/admins/{viewer}"));
            await AssertRefusedAsync(app, "own password change", () => admin.PostAsJsonAsync("/api/auth/password", new { currentPassword = TollgateApp.AdminPassword, newPassword = "another-long-password" }));
            await AssertRefusedAsync(app, "two-factor setup", () => admin.PostAsJsonAsync("/api/auth/totp/setup", new { }));
            await AssertRefusedAsync(app, "two-factor enable", () => pending.PostAsJsonAsync("/api/auth/totp/enable", new { code = new Totp(Base32Encoding.ToBytes(pendingSecret)).ComputeTotp() }));
            await AssertRefusedAsync(app, "two-factor disable", () => enabled.PostAsJsonAsync("/api/auth/totp/disable", new { password = Password }));

            // The password change that failed ended no other session.
            Assert.Equal(HttpStatusCode.OK, (await secondSession.GetAsync("/api/admin/plans")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/admins/{viewer}")).StatusCode);
    }

    [Fact]
    public async Task AuditWriteFails_DemoSetupAndReset_AreRefusedAndChangeNothing()
    {
        await using var app = new TollgateApp();
        using var admin = await app.AdminClientAsync();

        await using (await AuditRefusal.StartAsync(app.Database))
        {
            await AssertRefusedAsync(app, "demo setup", () => admin.PostAsJsonAsync("/api/admin/setup", new { historyDays = 1 }));
        }

        Assert.Equal(0, await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs"));
        var demo = await (await admin.PostAsJsonAsync("/api/admin/setup", new { historyDays = 1 })).ReadJsonAsync();
        using var demoClient = app.TenantClient(demo.GetProperty("tenants")[0].GetProperty("apiKey").GetString()!);

        await using (await AuditRefusal.StartAsync(app.Database))
        {
            await AssertRefusedAsync(app, "demo reset", () => admin.PostAsJsonAsync("/api/admin/setup", new { reset = true, historyDays = 1 }));
            await AssertRefusedAsync(app, "demo keys", () => admin.PostAsJsonAsync("/api/admin/setup", new { historyDays = 0 }));

            // The demo tenants were not removed from this instance's directory: their key still works.
            Assert.Equal(HttpStatusCode.OK, (await demoClient.GetAsync("/api/v1/ping")).StatusCode);
        }
    }

    /// <summary>
    /// Runs <paramref name="change"/> and asserts that it answered the error handler's problem and that no table
    /// differs from before it.
    /// </summary>
    private static async Task AssertRefusedAsync(TollgateApp app, string what, Func<Task<HttpResponseMessage>> change)
    {
        var before = await SnapshotAsync(app.Database);
        using var response = await change();
        Assert.True(response.StatusCode == HttpStatusCode.InternalServerError,
            $"{what}: expected 500 while the audit table refuses inserts, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        await response.ProblemAsync(500);
        var after = await SnapshotAsync(app.Database);
        foreach (var (table, rows) in before)
        {
            var gone = rows.Except(after[table]).Select(r => "\n- " + r);
            var added = after[table].Except(rows).Select(r => "\n+ " + r);
            Assert.True(rows.SequenceEqual(after[table]), $"{what} changed {table} although its audit entry was refused:{string.Concat(gone.Concat(added))}");
        }
    }

    /// <summary>Every row an admin change could touch, as text (sessions without their idle-time stamp, usage by count).</summary>
    private static async Task<Dictionary<string, List<string>>> SnapshotAsync(AppDatabase database)
    {
        var tables = new Dictionary<string, string>
        {
            ["plans"] = "SELECT * FROM plans",
            ["tenants"] = "SELECT * FROM tenants",
            ["api_keys"] = "SELECT * FROM api_keys",
            ["users"] = "SELECT * FROM users",
            ["admins"] = "SELECT * FROM admins",
            ["admin_sessions"] = "SELECT key_hash, admin_id, expires_at FROM admin_sessions",
            ["gateway_routes"] = "SELECT * FROM gateway_routes",
            ["audit_log"] = "SELECT * FROM audit_log",
            ["quota_counters"] = "SELECT * FROM quota_counters",
            ["usage"] = "SELECT (SELECT COUNT(*) FROM usage_logs) AS logs, (SELECT COUNT(*) FROM usage_rollups) AS rollups",
        };
        var snapshot = new Dictionary<string, List<string>>();
        foreach (var (table, sql) in tables)
        {
            snapshot[table] = (await database.QueryAsync(sql)).Select(Text).Order(StringComparer.Ordinal).ToList();
        }

        return snapshot;
    }

    private static string Text(Dictionary<string, object?> row) => string.Join(", ", row.Select(c => c.Key + "=" + c.Value switch
    {
        null => "null",
        byte[] bytes => Convert.ToHexString(bytes),
        DateTime at => at.ToString("O", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var v => v.ToString(),
    }));

    private static async Task<long> IdOf(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadJsonAsync()).GetProperty("id").GetInt64();
    }

    /// <summary>A trigger that makes every insert into <c>audit_log</c> fail, in the database itself, until disposed.</summary>
    private sealed class AuditRefusal(AppDatabase database) : IAsyncDisposable
    {
        public static async Task<AuditRefusal> StartAsync(AppDatabase database)
        {
            string[] statements = database.Provider switch
            {
                DatabaseProvider.Sqlite => ["CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END"],
                DatabaseProvider.Postgres =>
                [
                    "CREATE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$",
                    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_refused()",
                ],
                DatabaseProvider.MySql => ["CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit refused'"],
                _ => throw new ArgumentOutOfRangeException(nameof(database), database.Provider, null),
            };
            foreach (var statement in statements)
            {
                await database.ExecuteAsync(statement);
            }

            return new AuditRefusal(database);
        }

        public async ValueTask DisposeAsync()
        {
            string[] statements = database.Provider == DatabaseProvider.Postgres
                ? ["DROP TRIGGER audit_refused ON audit_log", "DROP FUNCTION audit_refused()"]
                : ["DROP TRIGGER audit_refused"];
            foreach (var statement in statements)
            {
                await database.ExecuteAsync(statement);
            }
        }
    }
}
