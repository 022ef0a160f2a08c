using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Data;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Benchmarks;

/// <summary>
/// How many usage events per second the server's writer stores, sustained: one producer fills the real
/// <see cref="UsageQueue"/> as fast as it accepts (waiting when it is full, as requests do), and the real
/// <see cref="UsageWriter"/> batches them into the database through the provider's batch store (SQLite prepared
/// statements, PostgreSQL binary COPY, MySQL multi-row inserts) — raw rows, roll-ups, quota counters, keys' last use.
/// No HTTP, so the figure is the writer's own ceiling.
/// </summary>
/// <remarks>
/// <c>ingest --db PATH --events N [--tenants 1000] [--batch N] [--flush 00:00:00.100] [--rate N]</c> on a SQLite
/// file, or <c>ingest --provider Postgres|MySql --connection STRING ...</c> on a server database: --batch and
/// --flush set <c>Tollgate:Usage:BatchSize</c> and <c>FlushInterval</c>; --rate paces the producer to N events a
/// second, to see the writer's CPU per event at a given load rather than its ceiling. Prints one line per second
/// and a final <c>INGEST key=value ...</c> line for bench/run. The database is created when missing; an existing
/// one (say with 10 million rows) is written on top of.
/// </remarks>
internal static class IngestionRun
{
    private static readonly string[] Endpoints = ["/api/v1/ping", "/api/v1/users", "/api/v1/users/{id}", "/api/v1/ping"];

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Parse(args);
        var provider = Enum.Parse<DatabaseProvider>(options.GetValueOrDefault("provider") ?? "Sqlite", ignoreCase: true);
        var database = provider == DatabaseProvider.Sqlite
            ? BenchDatabase.Sqlite(options.GetValueOrDefault("db") ?? throw new ArgumentException("--db PATH is required for SQLite."))
            : new BenchDatabase(provider, options.GetValueOrDefault("connection")
                ?? throw new ArgumentException($"--connection STRING is required for {provider}."));
        var events = long.Parse(options.GetValueOrDefault("events") ?? "1000000", CultureInfo.InvariantCulture);
        var tenantCount = int.Parse(options.GetValueOrDefault("tenants") ?? "1000", CultureInfo.InvariantCulture);
        var settings = new Dictionary<string, string?>();
        if (options.GetValueOrDefault("batch") is { } batch)
        {
            settings["Tollgate:Usage:BatchSize"] = batch;
        }

        if (options.GetValueOrDefault("flush") is { } flush)
        {
            settings["Tollgate:Usage:FlushInterval"] = flush;
        }

        // Events per second offered; 0 = as fast as the queue takes them (the writer's ceiling).
        var offered = double.Parse(options.GetValueOrDefault("rate") ?? "0", CultureInfo.InvariantCulture);

        await using var services = await BenchServices.StartAsync(database, tenantCount, settings);
        var tenants = services.Tenants;
        var queue = services.Provider.GetRequiredService<UsageQueue>();
        var writer = services.Provider.GetRequiredService<UsageWriter>();
        var rowsBefore = await services.MaxUsageLogIdAsync();

        await writer.StartAsync(CancellationToken.None);
        // CPU time of the whole process (producer included): on a shared machine it moves less than wall time.
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var clock = Stopwatch.StartNew();
        var producer = Task.Run(async () =>
        {
            for (long i = 0; i < events; i++)
            {
                if (offered > 0 && i % 64 == 0)
                {
                    while (i > offered * clock.Elapsed.TotalSeconds)
                    {
                        await Task.Delay(1);
                    }
                }

                var tenant = tenants[(int)(i % tenants.Count)];
                var now = DateTime.UtcNow;
                var outcome = i % 100 == 99 ? LimitOutcome.RateLimited : LimitOutcome.Admitted;
                await queue.RecordAsync(new UsageEvent(
                    tenant.TenantId,
                    tenant.KeyId,
                    now,
                    i % 10 == 9 ? "POST" : "GET",
                    Endpoints[(int)(i % Endpoints.Length)],
                    outcome == LimitOutcome.Admitted ? (i % 50 == 7 ? 404 : 200) : 429,
                    100 + (i * 7919 % 3000),
                    outcome,
                    QuotaPeriod.Month,
                    QuotaPeriods.StartOf(QuotaPeriod.Month, now)));
            }
        });

        // One sample a second; the first second (JIT, empty caches) is left out of the sustained figures.
        var perSecond = new List<double>();
        long lastWritten = 0;
        var lastTime = TimeSpan.Zero;
        while (writer.Written < events)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var written = writer.Written;
            var elapsed = clock.Elapsed;
            var rate = (written - lastWritten) / (elapsed - lastTime).TotalSeconds;
            perSecond.Add(rate);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {elapsed.TotalSeconds,6:F1} s  stored {written,12:N0}  {rate,10:N0} events/s  queued {queue.Count,8:N0}"));
            (lastWritten, lastTime) = (written, elapsed);
        }

        await producer;
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds;
        await writer.StopAsync(CancellationToken.None);
        var stored = await services.CountUsageLogsAfterAsync(rowsBefore);

        var sustained = perSecond.Count > 2 ? perSecond.Skip(1).SkipLast(1).ToList() : perSecond;
        sustained.Sort();
        var median = sustained.Count == 0 ? 0 : sustained[sustained.Count / 2];
        var min = sustained.Count == 0 ? 0 : sustained[0];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"INGEST events={events} stored={stored} seconds={seconds:F2} rate={events / seconds:F0} " +
            $"median_1s={median:F0} min_1s={min:F0} cpu_seconds={cpuSeconds:F2} per_cpu_second={events / cpuSeconds:F0} " +
            $"tenants={tenants.Count} rows_before={rowsBefore} provider={provider}"));
        return stored == events ? 0 : 1;
    }

    private static Dictionary<string, string> Parse(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            options[args[i].TrimStart('-')] = args[i + 1];
        }

        return options;
    }
}
