using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Tollgate.Testing;

namespace Tollgate.AspNetCore.Tests.Embedding;

/// <summary>
/// samples/Orders, built from the packed packages as a user builds it, runs beside the Tollgate server on one
/// PostgreSQL database and one Redis: the two processes are one system (CONTRACT §6).
/// </summary>
[Collection(SamplePackageCollection.Name)]
public sealed class SamplePackageTests(SampleEnvironment environment, Xunit.Abstractions.ITestOutputHelper output)
    : IClassFixture<SampleEnvironment>
{
    [Fact]
    public async Task Quota_150RequestsSplitBetweenTheSampleAndTheServer_AdmitsExactly100()
    {
        output.WriteLine($"Built from the packages: {environment.BuildTimes}");
        var tenant = await environment.Server.CreateTenantAsync(100);
        using var sample = environment.SampleClient(tenant.ApiKey);
        using var server = environment.Server.TenantClient(tenant.ApiKey);
        var answers = await SplitBurstAsync(sample, server, 150);

        var admittedOnSample = answers.Count(a => a.OnSample && a.Status == HttpStatusCode.OK);
        var admittedOnServer = answers.Count(a => !a.OnSample && a.Status == HttpStatusCode.OK);
        output.WriteLine($"Admitted: {admittedOnSample} by the sample + {admittedOnServer} by the server = {admittedOnSample + admittedOnServer}");
        Assert.Equal(100, admittedOnSample + admittedOnServer);
        Assert.True(admittedOnSample > 0 && admittedOnServer > 0, "both processes must have admitted some of the 100");

        var refused = answers.Where(a => a.Status != HttpStatusCode.OK).ToList();
        Assert.Equal(50, refused.Count);
        Assert.All(refused, a =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, a.Status);
            Assert.Equal("application/problem+json", a.Headers["Content-Type"].Split(';')[0]);
            Assert.Contains("Plan Limit Exceeded", a.Body, StringComparison.Ordinal);
            Assert.True(long.Parse(a.Headers["Retry-After"], CultureInfo.InvariantCulture) > 0);
            Assert.Equal("100", a.Headers["X-RateLimit-Limit"]);
            Assert.Equal("0", a.Headers["X-RateLimit-Remaining"]);
            Assert.StartsWith("\"quota\";q=100;w=", a.Headers["RateLimit-Policy"], StringComparison.Ordinal);
            Assert.StartsWith("\"quota\";r=0;t=", a.Headers["RateLimit"], StringComparison.Ordinal);
        });
        Assert.Contains(refused, a => a.OnSample);

        // Both processes read the one shared count.
        var usage = await (await server.GetAsync("/api/v1/usage")).ReadJsonAsync();
        Assert.Equal(100, usage.GetProperty("used").GetInt64());
        Assert.Equal(HttpStatusCode.TooManyRequests, (await sample.GetAsync("/orders")).StatusCode);
    }

    [Fact]
    public async Task SampleRequests_AppearOnTheServersDashboardAndRequestLog()
    {
        var tenant = await environment.Server.CreateTenantAsync(1000);
        using var sample = environment.SampleClient(tenant.ApiKey);
        var ids = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var created = await sample.PostAsJsonAsync("/orders", new { product = $"widget {i}", quantity = i + 1 });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            ids.Add((await created.ReadJsonAsync()).GetProperty("id").GetInt64());
        }

        foreach (var id in ids)
        {
            Assert.Equal(HttpStatusCode.OK, (await sample.GetAsync($"/orders/{id}")).StatusCode);
        }

        var list = await (await sample.GetAsync("/orders")).ReadJsonAsync();
        Assert.Equal(3, list.GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await sample.GetAsync("/orders/999999")).StatusCode);

        // The dashboard of the server shows the 8 requests the sample admitted, live and in the quota.
        using var admin = await environment.Server.AdminClientAsync();
        var watch = Stopwatch.StartNew();
        long used = 0, lastMinute = 0;
        while (watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            var dashboard = await (await admin.GetAsync("/api/dashboard-data")).ReadJsonAsync();
            var row = dashboard.GetProperty("tenants").EnumerateArray().Single(t => t.GetProperty("id").GetInt64() == tenant.Id);
            used = row.GetProperty("used").GetInt64();
            lastMinute = row.GetProperty("requestsLastMinute").GetInt64();
            if (used == 8 && lastMinute == 8)
            {
                break;
            }

            await Task.Delay(100);
        }

        output.WriteLine($"On the dashboard after {watch.ElapsedMilliseconds} ms: used {used}, last minute {lastMinute}");
        Assert.Equal(8, used);
        Assert.Equal(8, lastMinute);

        // The request log holds each of them with the sample's route templates (written off the request path).
        var logged = new List<string>();
        watch.Restart();
        while (watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            var page = await (await admin.GetAsync($"/api/admin/logs?tenantId={tenant.Id}&limit=100")).ReadJsonAsync();
            logged = [.. page.GetProperty("items").EnumerateArray()
                .Select(l => $"{l.GetProperty("method").GetString()} {l.GetProperty("endpoint").GetString()} {l.GetProperty("statusCode").GetInt32()}")
                .Order(StringComparer.Ordinal)];
            if (logged.Count == 8)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(
            [
                "GET /orders 200",
                "GET /orders/{id:long} 200", "GET /orders/{id:long} 200", "GET /orders/{id:long} 200",
                "GET /orders/{id:long} 404",
                "POST /orders 201", "POST /orders 201", "POST /orders 201",
            ],
            logged);
    }

    [Fact]
    public async Task Revocation_OnTheServer_IsRefusedByTheSampleWithinOneSecond()
    {
        var tenant = await environment.Server.CreateTenantAsync(1000);
        using var sample = environment.SampleClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await sample.GetAsync("/orders")).StatusCode); // The sample has the key cached.

        using var admin = await environment.Server.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
        var watch = Stopwatch.StartNew();
        HttpResponseMessage response;
        while ((response = await sample.GetAsync("/orders")).StatusCode != HttpStatusCode.Unauthorized)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), "the sample still accepts the revoked key after 1 s");
            await Task.Delay(10);
        }

        output.WriteLine($"The sample refused the revoked key {watch.ElapsedMilliseconds} ms after the server answered the revocation");
        var problem = await response.ProblemAsync(401);
        Assert.Equal("Unauthorized", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task WithoutRedis_TheSampleAndTheServerEachCountAlone()
    {
        // README says so plainly: without Redis an embedding app is a system of its own that only shares the database.
        var tenant = await environment.Server.CreateTenantAsync(100);
        var settings = environment.SampleSettings();
        settings.Remove("Tollgate:Redis");
        // Without the change feed, changes made on the server arrive by the resync; a short one for the test.
        settings["Tollgate:Keys:ResyncInterval"] = "00:00:01";
        await using var alone = await environment.StartListeningSampleAsync(settings);
        using var sample = environment.SampleClient(tenant.ApiKey, alone);
        using var server = environment.Server.TenantClient(tenant.ApiKey);

        var answers = await SplitBurstAsync(sample, server, 150);
        var admittedOnSample = answers.Count(a => a.OnSample && a.Status == HttpStatusCode.OK);
        var admittedOnServer = answers.Count(a => !a.OnSample && a.Status == HttpStatusCode.OK);
        output.WriteLine($"Without Redis: {admittedOnSample} admitted by the sample + {admittedOnServer} by the server = {admittedOnSample + admittedOnServer} on a quota of 100");
        Assert.True(admittedOnSample + admittedOnServer > 100, "two processes without Redis were expected to count alone");

        // A revocation reaches it by the resync (Tollgate:Keys:ResyncInterval), not within the 1 s of CONTRACT §6,
        // which is Redis's change feed.
        using var admin = await environment.Server.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while ((await sample.GetAsync("/orders")).StatusCode != HttpStatusCode.Unauthorized)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "the sample still admitted the revoked key after 10 s");
            await Task.Delay(50);
        }

        output.WriteLine($"Without Redis: the revocation reached the sample after {watch.Elapsed.TotalSeconds:F1} s (resync every 1 s)");
    }

    [Fact]
    public async Task Sample_ConfiguredForMySqlWithOnlyThePostgresPackage_FailsAtStartNamingTollgateStorageMySql()
    {
        // A MySQL connection string to a port nobody listens on: the start must fail before any connection.
        await using var sample = environment.StartSample(environment.SampleSettings(new Dictionary<string, string>
        {
            ["Tollgate:Database:Provider"] = "MySql",
            ["ConnectionStrings:Tollgate"] = $"Server=127.0.0.1;Port={FreePort.Next()};Database=tollgate;User ID=tollgate;Password=x",
        }));

        await sample.WaitForExitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine(sample.Output.Split('\n')[0]);
        Assert.NotEqual(0, sample.ExitCode);
        Assert.Contains("Tollgate.Storage.MySql", sample.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", sample.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// <paramref name="count"/> requests at once, every other one to the sample's <c>GET /orders</c> and the rest to
    /// the server's <c>GET /api/v1/ping</c>: the two processes race for the same last units of the quota.
    /// </summary>
    private static async Task<List<Answer>> SplitBurstAsync(HttpClient sample, HttpClient server, int count)
    {
        var answers = new ConcurrentBag<Answer>();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            var onSample = i % 2 == 0;
            using var response = await (onSample ? sample.GetAsync("/orders", ct) : server.GetAsync("/api/v1/ping", ct));
            var headers = response.Headers.Concat(response.Content.Headers)
                .ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
            answers.Add(new Answer(onSample, response.StatusCode, headers, await response.Content.ReadAsStringAsync(ct)));
        });
        return [.. answers];
    }

    private sealed record Answer(bool OnSample, HttpStatusCode Status, Dictionary<string, string> Headers, string Body);
}

/// <summary>
/// The sample tests run alone, after the parallel ones: they pack and publish (all of two cores for a while), and they
/// time a revocation against a 1 s bound, which other tests' load would starve.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SamplePackageCollection
{
    public const string Name = "Sample package";
}
