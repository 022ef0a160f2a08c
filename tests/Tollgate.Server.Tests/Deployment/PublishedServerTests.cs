using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Tollgate.Server.Tests.Deployment;

/// <summary>
/// The published server started as services start it: <c>dotnet /path/Tollgate.Server.dll</c> from another working
/// directory. It must serve its pages and assets and read its own appsettings.json (issue 10, item 5).
/// </summary>
[Trait("Category", "Deployment")]
public sealed partial class PublishedServerTests(PublishedOutput published, ITestOutputHelper output) : IClassFixture<PublishedOutput>
{
    [Fact]
    public async Task Login_FromAnotherWorkingDirectory_AnswersThePage_NotToBeStored()
    {
        var server = published.Server;
        Assert.NotEqual(Path.GetFullPath(published.PublishFolder), Path.GetFullPath(server.WorkingDirectory));
        using var client = Client(server);

        using var response = await client.GetAsync(new Uri("/login", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("Sign in to the admin dashboard", html, StringComparison.Ordinal);
        // Its assets by their fingerprinted URLs, and an import map the policy admits by its hash.
        Assert.Matches(FingerprintedUrl("/app", "css"), html);
        Assert.Matches(FingerprintedUrl("/js/login", "js"), html);
        var importMap = ImportMap().Match(html);
        Assert.True(importMap.Success, "The page has no import map.");
        Assert.Contains("\"/js/api.js\":\"/js/api.", importMap.Groups["map"].Value, StringComparison.Ordinal);
        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(importMap.Groups["map"].Value)));
        var policy = string.Join(' ', response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains($"script-src 'self' 'sha256-{hash}';", policy, StringComparison.Ordinal);
        output.WriteLine($"published in {published.PublishTime.TotalSeconds:0.0} s; started (to /healthz 200) in {server.StartupTime.TotalSeconds:0.00} s");
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/tenants/1")]
    public async Task Page_WithoutSession_IsNotServed_ButRedirectsToLogin(string page)
    {
        using var client = Client(published.Server);

        using var response = await client.GetAsync(new Uri(page, UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/login", new Uri(published.Server.Address, response.Headers.Location!).PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChartJs_IsServedFingerprinted_Precompressed_AndImmutable()
    {
        using var client = Client(published.Server);
        (await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = PublishedOutput.AdminPassword })).EnsureSuccessStatusCode();
        var tenantPage = await client.GetStringAsync(new Uri("/tenants/1", UriKind.Relative));
        var url = Regex.Match(tenantPage, FingerprintedUrl("/lib/chart.js/chart.umd.min", "js")).Value;
        Assert.NotEmpty(url);

        using var plain = await Get(client, url, acceptEncoding: null);
        using var brotli = await Get(client, url, "br, gzip");
        using var gzip = await Get(client, url, "gzip");

        var original = await plain.Content.ReadAsByteArrayAsync();
        foreach (var (response, encoding) in new[] { (plain, (string?)null), (brotli, "br"), (gzip, "gzip") })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("max-age=31536000, immutable", response.Headers.CacheControl?.ToString());
            Assert.NotNull(response.Headers.ETag);
            Assert.Contains("Accept-Encoding", response.Headers.Vary);
            Assert.Equal(encoding, response.Content.Headers.ContentEncoding.SingleOrDefault());
            Output(url, encoding, response);
        }

        var compressed = await brotli.Content.ReadAsByteArrayAsync();
        Assert.True(compressed.Length < original.Length / 2, $"br {compressed.Length} bytes of {original.Length}");
        Assert.Equal(original, Decompress(compressed, stream => new BrotliStream(stream, CompressionMode.Decompress)));
        Assert.Equal(original, Decompress(await gzip.Content.ReadAsByteArrayAsync(), stream => new GZipStream(stream, CompressionMode.Decompress)));

        // Under its own name the same file is revalidated instead: no-cache, and 304 while it has not changed.
        using var unversioned = await Get(client, "/lib/chart.js/chart.umd.min.js", "br");
        Assert.Equal("no-cache", unversioned.Headers.CacheControl?.ToString());
        Output("/lib/chart.js/chart.umd.min.js", "br", unversioned);
        using var revalidation = new HttpRequestMessage(HttpMethod.Get, "/lib/chart.js/chart.umd.min.js");
        revalidation.Headers.AcceptEncoding.ParseAdd("br");
        revalidation.Headers.IfNoneMatch.Add(unversioned.Headers.ETag!);
        using var notModified = await client.SendAsync(revalidation);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task Healthz_Answers200()
    {
        using var client = Client(published.Server);
        using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Server_ReadsTheAppSettingsOfItsOutput_AndStopsCleanlyOnSigterm()
    {
        using var server = published.StartServer();
        using (var client = Client(server))
        {
            for (var i = 0; i < 5; i++)
            {
                (await client.GetAsync(new Uri("/login", UriKind.Relative))).EnsureSuccessStatusCode();
                (await client.GetAsync(new Uri("/healthz", UriKind.Relative))).EnsureSuccessStatusCode();
            }
        }

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        var exitCode = server.Terminate(TimeSpan.FromSeconds(30));

        var log = server.Output;
        output.WriteLine($"started in {server.StartupTime.TotalSeconds:0.00} s; exited {stopping.Elapsed.TotalSeconds:0.00} s after SIGTERM with code {exitCode}");
        output.WriteLine(log);
        Assert.True(exitCode is not null, "The server did not stop within 30 s of SIGTERM.");
        Assert.Equal(0, exitCode);
        Assert.Contains("Application is shutting down...", log, StringComparison.Ordinal);
        // The shipped appsettings.json turns request logging off ("Microsoft.AspNetCore.Hosting.Diagnostics": "None")
        // and EF Core down to warnings; without it every request and command would be logged at Information.
        Assert.DoesNotContain("Microsoft.AspNetCore.Hosting.Diagnostics", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Request starting", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Executed DbCommand", log, StringComparison.Ordinal);
        Assert.Contains($"Content root path: {published.PublishFolder}", log, StringComparison.Ordinal);
    }

    /// <summary>A client that shows the response as sent: no redirects followed, no decompression.</summary>
    private static HttpClient Client(PublishedServer server) =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = true })
        {
            BaseAddress = server.Address,
        };

    private static async Task<HttpResponseMessage> Get(HttpClient client, string url, string? acceptEncoding)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (acceptEncoding is not null)
        {
            request.Headers.AcceptEncoding.ParseAdd(acceptEncoding);
        }

        return await client.SendAsync(request);
    }

    private static string FingerprintedUrl(string path, string extension) => $@"{Regex.Escape(path)}\.[a-z0-9]{{10}}\.{extension}(?="")";

    private static byte[] Decompress(byte[] compressed, Func<Stream, Stream> decompressor)
    {
        using var source = decompressor(new MemoryStream(compressed));
        using var result = new MemoryStream();
        source.CopyTo(result);
        return result.ToArray();
    }

    private void Output(string url, string? encoding, HttpResponseMessage response) =>
        output.WriteLine(
            $"GET {url} (Accept-Encoding: {encoding ?? "none"}): {(int)response.StatusCode}, Content-Length {response.Content.Headers.ContentLength}, " +
            $"Content-Encoding {string.Join(',', response.Content.Headers.ContentEncoding)}, Cache-Control {response.Headers.CacheControl}, " +
            $"ETag {response.Headers.ETag}, Vary {string.Join(',', response.Headers.Vary)}");

    [GeneratedRegex("""<script type="importmap">(?<map>[^<]*)</script>""")]
    private static partial Regex ImportMap();
}
