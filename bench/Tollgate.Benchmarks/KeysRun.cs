using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Tollgate.Keys;

namespace Tollgate.Benchmarks;

/// <summary>
/// Writes many API keys for one tenant straight into a stopped server's SQLite file, for the scale section of
/// bench/run (issue 17: a million keys). Key <c>i</c> is <c>tg_bench</c> followed by <c>i</c> in 27 digits, a well-formed
/// key that wrk's <c>keys.lua</c> can build from <c>i</c> alone, so the load generator needs no list of a million keys.
/// </summary>
/// <remarks><c>keys --db PATH --tenant ID --count N</c>; keys 1..N, hashed as the server hashes them.</remarks>
internal static class KeysRun
{
    /// <summary>Key number <paramref name="i"/> (the same formula as bench/wrk/keys.lua).</summary>
    public static string Key(long i) => string.Create(CultureInfo.InvariantCulture, $"tg_bench{i:D27}");

    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            options[args[i].TrimStart('-')] = args[i + 1];
        }

        var db = options.GetValueOrDefault("db") ?? throw new ArgumentException("--db PATH is required.");
        var tenant = long.Parse(options.GetValueOrDefault("tenant") ?? throw new ArgumentException("--tenant ID is required."), CultureInfo.InvariantCulture);
        var count = long.Parse(options.GetValueOrDefault("count") ?? "1000000", CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        using var connection = new SqliteConnection($"Data Source={db}");
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA synchronous=OFF;";
            pragma.ExecuteNonQuery();
        }

        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO api_keys (tenant_id, name, hash, start, created_at) VALUES ($tenant, 'bench', $hash, $start, $created)";
        var tenantParameter = insert.Parameters.Add("$tenant", SqliteType.Integer);
        var hash = insert.Parameters.Add("$hash", SqliteType.Blob);
        var start = insert.Parameters.Add("$start", SqliteType.Text);
        insert.Parameters.AddWithValue("$created", DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture));
        tenantParameter.Value = tenant;
        insert.Prepare();
        for (long i = 1; i <= count; i++)
        {
            var key = Key(i);
            hash.Value = ApiKeyFormat.HashToBytes(key);
            start.Value = ApiKeyFormat.StartOf(key);
            insert.ExecuteNonQuery();
        }

        transaction.Commit();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"KEYS count={count} seconds={clock.Elapsed.TotalSeconds:F1}"));
        return 0;
    }
}
