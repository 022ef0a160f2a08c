using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tollgate.Limits;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Server.Tests.Usage;

/// <summary>The spool file on its own, and a spool that a previous run left behind.</summary>
public sealed class UsageSpoolTests
{
    private static readonly DateTime MonthStart = QuotaPeriods.StartOf(QuotaPeriod.Month, DateTime.UtcNow);

    [Fact]
    public void AppendThenLoad_ReadsBackEveryFieldOfEveryEvent_InOrder()
    {
        var path = TestDatabase.NewSpoolPath();
        var batch = Batch(tenantId: 7, events: 3, sequence: 1);
        using (var spool = Open(path))
        {
            spool.Append(batch);
        }

        using var again = Open(path);
        again.Load(_ => new Dictionary<string, long>());
        Assert.True(again.HasPending);
        Assert.Equal(3, again.PendingEvents);
        Assert.Equal(3, again.PendingUsed(new QuotaKey(7, QuotaPeriod.Month, MonthStart)));
        var read = new UsageBatch();
        Assert.Equal(1, again.ReadOldest(read, 1000));
        Assert.Equal(batch.Mark, read.Mark!.Value with { FirstSequence = 0 });
        Assert.Equal(batch.Events, read.Events);
    }

    [Fact]
    public void ReadOldest_ConsecutiveBatchesOfOneWriter_AreReadAsOneRange_UpToTheLimit()
    {
        var path = TestDatabase.NewSpoolPath();
        var writer = Guid.NewGuid().ToString("N");
        using var spool = Open(path);
        spool.Append(Batch(tenantId: 1, events: 2, sequence: 1, writer: writer));
        spool.Append(Batch(tenantId: 1, events: 3, sequence: 2, writer: writer));
        spool.Append(Batch(tenantId: 1, events: 4, sequence: 3, writer: writer));
        spool.Append(Batch(tenantId: 1, events: 1, sequence: 1)); // another writer: never in the same range

        var read = new UsageBatch();
        Assert.Equal(2, spool.ReadOldest(read, maxEvents: 6));
        Assert.Equal(new UsageBatchMark(writer, 2, 1), read.Mark);
        Assert.Equal(5, read.Count);
        spool.BeginReplay();
        spool.EndReplay(2);
        Assert.Equal(1, spool.ReadOldest(read, maxEvents: 100));
        Assert.Equal(4, read.Count);
        Assert.Equal(5, spool.PendingEvents);
    }

    [Fact]
    public void Load_ATornLastRecord_IsCutOff_AndTheBatchesBeforeItAreKept()
    {
        var path = TestDatabase.NewSpoolPath();
        using (var spool = Open(path))
        {
            spool.Append(Batch(tenantId: 1, events: 2, sequence: 1));
            spool.Append(Batch(tenantId: 1, events: 4, sequence: 2));
        }

        // A crash in the middle of the second append: its last bytes never reached the disk.
        var file = Path.Combine(path, UsageSpool.FileName);
        var length = new FileInfo(file).Length;
        using (var stream = new FileStream(file, FileMode.Open))
        {
            stream.SetLength(length - 10);
        }

        using var again = Open(path);
        again.Load(_ => new Dictionary<string, long>());
        Assert.Equal(2, again.PendingEvents);
        again.Append(Batch(tenantId: 1, events: 1, sequence: 3));
        Assert.Equal(3, again.PendingEvents);
    }

    [Fact]
    public void Load_BatchesTheDatabaseAlreadyHas_AreNotPending()
    {
        var path = TestDatabase.NewSpoolPath();
        var first = Batch(tenantId: 1, events: 2, sequence: 1);
        using (var spool = Open(path))
        {
            spool.Append(first);
            spool.Append(Batch(tenantId: 1, events: 5, sequence: 2));
        }

        using var again = Open(path);
        again.Load(_ => new Dictionary<string, long> { [first.Mark!.Value.WriterId] = 1 });
        Assert.Equal(5, again.PendingEvents);
    }

    [Fact]
    public void Append_SecondProcessOnTheSameFolder_IsRefused()
    {
        var path = TestDatabase.NewSpoolPath();
        using var spool = Open(path);
        spool.Append(Batch(tenantId: 1, events: 1, sequence: 1));
        using var other = Open(path);
        Assert.ThrowsAny<IOException>(() => other.Append(Batch(tenantId: 1, events: 1, sequence: 1)));
    }

    [Fact]
    public async Task Start_WithASpoolLeftByAPreviousRun_CountsItInTheQuota_AndReplaysItOnce()
    {
        var first = new TollgateApp();
        var tenant = await first.CreateTenantAsync(10);
        await first.DisposeAsync();

        // What a run that stopped during a database outage leaves behind: 7 admitted requests in the spool.
        using (var spool = Open(first.Database.SpoolPath))
        {
            spool.Append(Batch(tenant.Id, events: 7, sequence: 1, keyId: tenant.KeyId));
        }

        var second = new TollgateApp(first.Database);
        using (var client = second.TenantClient(tenant.ApiKey))
        {
            var usage = await (await client.GetAsync("/api/v1/usage")).ReadJsonAsync();
            Assert.Equal(7, usage.GetProperty("used").GetInt64());
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
            }

            await (await client.GetAsync("/api/v1/ping")).ProblemAsync(429);
        }

        var status = second.Services.GetRequiredService<UsageStorageStatus>();
        for (var i = 0; i < 100 && status.State != UsageStorageState.Healthy; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(UsageStorageState.Healthy, status.State);
        await second.DisposeAsync();
        Assert.Equal(10, await first.Database.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND outcome = 'Admitted'", ("@t", tenant.Id)));
        Assert.Equal(10, await first.Database.ScalarAsync("SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id)));
        Assert.Equal(0, new FileInfo(Path.Combine(first.Database.SpoolPath, UsageSpool.FileName)).Length);
    }

    [Fact]
    public async Task Start_WithASpooledBatchTheDatabaseAlreadyHas_DoesNotStoreItAgain()
    {
        // A replay committed, then the process died before it could empty the spool.
        var first = new TollgateApp();
        var tenant = await first.CreateTenantAsync(1000);
        var batch = Batch(tenant.Id, events: 5, sequence: 1, keyId: tenant.KeyId);
        await first.Services.GetRequiredService<IUsageBatchStore>().WriteAsync(batch, CancellationToken.None);
        await first.DisposeAsync();
        using (var spool = Open(first.Database.SpoolPath))
        {
            spool.Append(batch);
        }

        var second = new TollgateApp(first.Database);
        using (var client = second.TenantClient(tenant.ApiKey))
        {
            var usage = await (await client.GetAsync("/api/v1/usage")).ReadJsonAsync();
            Assert.Equal(5, usage.GetProperty("used").GetInt64());
        }

        await second.DisposeAsync();
        Assert.Equal(5, await first.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t", ("@t", tenant.Id)));
        Assert.Equal(5, await first.Database.ScalarAsync("SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id)));
    }

    private static UsageSpool Open(string path) => new(
        Options.Create(new UsageOptions { SpoolPath = path }),
        new HostingEnvironment { ContentRootPath = Path.GetTempPath() },
        NullLogger<UsageSpool>.Instance);

    private static UsageBatch Batch(long tenantId, int events, long sequence, long keyId = 1, string? writer = null)
    {
        var batch = new UsageBatch { Mark = new UsageBatchMark(writer ?? Guid.NewGuid().ToString("N"), sequence) };
        for (var i = 0; i < events; i++)
        {
            batch.Add(new UsageEvent(
                tenantId, keyId, DateTime.UtcNow.AddMilliseconds(i), i % 2 == 0 ? "GET" : "POST", "/api/v1/users/{id}", 200 + i,
                100 + i, LimitOutcome.Admitted, QuotaPeriod.Month, MonthStart));
        }

        return batch;
    }
}
