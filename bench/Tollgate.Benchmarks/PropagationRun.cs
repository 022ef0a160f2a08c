using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Tollgate.Benchmarks;

/// <summary>
/// <c>propagation</c>: how long a plan change made on one instance takes to decide requests on another that shares its
/// database and Redis (issue 17: "≤ 20 ms per change … through Redis's change feed on several"). Each round changes the
/// plan's quota on instance A, then pings instance B with a key of a tenant on that plan, back to back, until B's
/// <c>X-RateLimit-Limit</c> shows the new quota: B reads it from its in-memory directory, so the header changes exactly
/// when B has applied the change.
/// </summary>
internal static class PropagationRun
{
    /// <summary>
    /// Arguments: <c>--a URL --b URL --cookie NAME=VALUE --plan ID --key KEY [--changes 20]</c>. Prints one line:
    /// <c>PROPAGATION changes=N change_ms=… change_max_ms=… visible_ms=… visible_max_ms=…</c>, where change is A's
    /// answer time and visible the time from A's answer to B's first answer with the new quota (medians and maxima).
    /// </summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var a = Option(args, "--a");
        var b = Option(args, "--b");
        var cookie = Option(args, "--cookie");
        var plan = Option(args, "--plan");
        var key = Option(args, "--key");
        var changes = int.Parse(Option(args, "--changes", "20"), CultureInfo.InvariantCulture);

        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var changeMs = new List<double>();
        var visibleMs = new List<double>();
        for (var i = 1; i <= changes; i++)
        {
            // Quotas far above what the probes use, so that no probe is refused while the rounds run.
            var limit = 1_000_000 + i;
            await PingAsync(http, b, key); // the connection to B is open before the clock starts
            using var patch = new HttpRequestMessage(HttpMethod.Patch, $"{a}/api/admin/plans/{plan}")
            {
                Content = new StringContent($"{{\"quota\":{{\"limit\":{limit},\"period\":\"Month\"}}}}", Encoding.UTF8, "application/json"),
            };
            patch.Headers.Add("Cookie", cookie);
            var started = Stopwatch.GetTimestamp();
            using (var answer = await http.SendAsync(patch))
            {
                answer.EnsureSuccessStatusCode();
            }

            var answered = Stopwatch.GetTimestamp();
            changeMs.Add(Stopwatch.GetElapsedTime(started, answered).TotalMilliseconds);
            while (await PingAsync(http, b, key) != limit)
            {
                if (Stopwatch.GetElapsedTime(answered) > TimeSpan.FromSeconds(10))
                {
                    Console.Error.WriteLine($"instance B did not show quota {limit} within 10 s");
                    return 1;
                }
            }

            visibleMs.Add(Stopwatch.GetElapsedTime(answered).TotalMilliseconds);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"PROPAGATION changes={changes} change_ms={Median(changeMs):F1} change_max_ms={changeMs.Max():F1} visible_ms={Median(visibleMs):F1} visible_max_ms={visibleMs.Max():F1}"));
        return 0;
    }

    /// <summary>B's quota for the key, from the header its directory fills in.</summary>
    private static async Task<long> PingAsync(HttpClient http, string b, string key)
    {
        using var ping = new HttpRequestMessage(HttpMethod.Get, $"{b}/api/v1/ping");
        ping.Headers.Add("X-API-KEY", key);
        using var answer = await http.SendAsync(ping);
        answer.EnsureSuccessStatusCode();
        return long.Parse(answer.Headers.GetValues("X-RateLimit-Limit").First(), CultureInfo.InvariantCulture);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string Option(string[] args, string name, string? fallback = null)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1]
            : fallback ?? throw new ArgumentException($"propagation: {name} is required");
    }
}
