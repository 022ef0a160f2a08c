using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tollgate.Testing;

/// <summary>
/// A real, throw-away Prometheus (Debian's <c>prometheus</c>) on a free loopback port, scraping one target every
/// second, with the alerting rules of docs/operations loaded. Its data lives in a temporary folder that is deleted
/// with it; a watchdog shell stops it if the test process dies first.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private const string Binary = "/usr/bin/prometheus";
    private readonly string _folder = Directory.CreateTempSubdirectory("tollgate-prometheus-").FullName;
    private readonly HttpClient _http = new();
    private Process? _process;
    private Process? _watchdog;

    private PrometheusServer()
    {
    }

    /// <summary>Prometheus's own address, for its HTTP API.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Starts Prometheus scraping <paramref name="target"/> (host:port) at <c>/metrics</c>, with <paramref name="ruleFiles"/>.</summary>
    public static async Task<PrometheusServer> StartAsync(string target, params string[] ruleFiles)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException(
                "prometheus is not installed. Run ./test.sh (it installs it), or: apt-get install -y prometheus");
        }

        var server = new PrometheusServer();
        await server.StartCoreAsync(target, ruleFiles);
        return server;
    }

    /// <summary>Runs an instant PromQL query and returns its result vector.</summary>
    public async Task<JsonElement> QueryAsync(string promQl)
    {
        var url = new Uri(Address, "/api/v1/query?query=" + Uri.EscapeDataString(promQl));
        var body = await _http.GetFromJsonAsync<JsonElement>(url);
        Assert.Equal("success", body.GetProperty("status").GetString());
        return body.GetProperty("data").GetProperty("result");
    }

    /// <summary>The value of a query whose answer is one sample, or null when it has none.</summary>
    public async Task<double?> ScalarAsync(string promQl)
    {
        var result = await QueryAsync(promQl);
        return result.GetArrayLength() == 0
            ? null
            : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }

    /// <summary>Polls a query until it answers <paramref name="expected"/> (the next scrapes bring new figures), or 20 s.</summary>
    public async Task<double?> WaitForAsync(string promQl, double expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        double? value;
        while ((value = await ScalarAsync(promQl)) != expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }

        return value;
    }

    /// <summary>GETs a path of Prometheus's HTTP API.</summary>
    public Task<JsonElement> GetAsync(string path) => _http.GetFromJsonAsync<JsonElement>(new Uri(Address, path));

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        if (_watchdog is { HasExited: false })
        {
            _watchdog.Kill();
            await _watchdog.WaitForExitAsync();
        }

        _watchdog?.Dispose();
        _http.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task StartCoreAsync(string target, string[] ruleFiles)
    {
        var config = Path.Combine(_folder, "prometheus.yml");
        var rules = ruleFiles.Length == 0 ? "" : "rule_files:\n" + string.Concat(ruleFiles.Select(f => $"  - '{Path.GetFullPath(f)}'\n"));
        await File.WriteAllTextAsync(config,
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n" + rules +
            $"scrape_configs:\n  - job_name: tollgate\n    static_configs:\n      - targets: ['{target}']\n");
        var port = FreePort.Next();
        Address = new Uri($"http://127.0.0.1:{port}");
        _process = Process.Start(new ProcessStartInfo(Binary,
            [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_folder, "data")}", $"--web.listen-address=127.0.0.1:{port}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _process.OutputDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        _process.ErrorDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var script = $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; kill -KILL {_process.Id} 2>/dev/null; rm -rf '{_folder}'";
        _watchdog = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", script]));

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                if ((await _http.GetAsync(new Uri(Address, "/-/ready"))).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException("Prometheus did not start:\n" + string.Join('\n', log.TakeLast(30)));
            }

            await Task.Delay(100);
        }
    }
}
