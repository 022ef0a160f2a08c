using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Gateway;

/// <summary>
/// An upstream that is not .NET: Debian's python3 with a small <c>http.server</c> handler, started on a free loopback
/// port. It echoes the path and the headers that matter as JSON and counts calls per tenant header, which the test
/// reads directly at <c>/__calls</c> (not through Tollgate).
/// </summary>
public sealed class PythonUpstream : IAsyncDisposable
{
    private const string Script = """
        import http.server, json, sys, threading
        calls, lock = {}, threading.Lock()
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def answer(self, status, value):
                body = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                if self.path.startswith("/__calls"):
                    with lock: return self.answer(200, dict(calls))
                tenant = self.headers.get("X-Tollgate-Tenant-Id") or ""
                with lock: calls[tenant] = calls.get(tenant, 0) + 1
                self.answer(200, {"server": "python", "path": self.path, "tenant": tenant,
                                  "apiKey": self.headers.get("X-API-KEY")})
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
        """;

    private readonly Process _process;
    private readonly string _folder;

    private PythonUpstream(Process process, string folder, int port)
    {
        _process = process;
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    public string Address => $"http://127.0.0.1:{Port}/";

    public static async Task<PythonUpstream> StartAsync()
    {
        var folder = Directory.CreateTempSubdirectory("tollgate-python-").FullName;
        var script = Path.Combine(folder, "upstream.py");
        await File.WriteAllTextAsync(script, Script);
        var port = FreePort.Next();
        var process = Process.Start(new ProcessStartInfo("python3", $"-u {script} {port}") { UseShellExecute = false })
            ?? throw new InvalidOperationException("python3 did not start");
        var upstream = new PythonUpstream(process, folder, port);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return upstream;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Calls that reached the upstream with this tenant's header.</summary>
    public async Task<int> CallsForAsync(long tenantId)
    {
        using var client = new HttpClient();
        var calls = await client.GetFromJsonAsync<Dictionary<string, int>>($"{Address}__calls");
        return calls!.GetValueOrDefault(tenantId.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
