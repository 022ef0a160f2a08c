using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.StaticAssets;

namespace Tollgate.Admin;

/// <summary>
/// The admin pages: static HTML that is a client of the same JSON API scripts use. Served by this process, with
/// every asset local (no CDN), and only to a signed-in admin; without a session the cookie handler redirects to
/// <c>/login</c>.
/// </summary>
/// <remarks>
/// Two kinds of content, served two ways. wwwroot (styles, scripts, Chart.js) is public and goes through the
/// framework's static web assets (<c>MapStaticAssets</c>): precompressed at publish (br, gzip), with an ETag, and under a
/// fingerprinted URL cached for a year as immutable. The pages are not static web assets on purpose: MapStaticAssets
/// maps every file it has as an anonymous endpoint with shared-cache headers, while a page behind a login must be
/// answered only after the session check, with <c>no-store</c>. So the pages are embedded in this assembly (found
/// whatever the working directory or content root) and served by the endpoints below; on first use each page's asset
/// URLs are rewritten to their fingerprinted routes, and an import map sends the scripts' own <c>import</c>s there too.
/// </remarks>
public static partial class Pages
{
    /// <summary>
    /// Scripts, styles and connections from this origin only: no inline script or style attribute can run, so a
    /// tenant or user name that slipped into the markup could not execute. Charts draw on a canvas, which needs none.
    /// The one inline script, the import map the server writes, is allowed by its hash (<see cref="ImportMapHash"/>).
    /// </summary>
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'" + ImportMapHash + "; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private const string ImportMapHash = "{import-map-hash}";

    private const string ResourcePrefix = "Tollgate.Pages.";

    /// <summary>
    /// Maps wwwroot's static assets and the pages <c>/</c>, <c>/login</c>, <c>/setup</c>, <c>/plans</c>, <c>/routes</c>,
    /// <c>/webhooks</c>, <c>/tenants/{id}</c>, <c>/admins</c>, <c>/audit</c> and <c>/account</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapAdminPages(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        routes.MapStaticAssets();

        // Built on the first page request: by then every endpoint, the static assets' included, is known.
        var rendered = new Lazy<RenderedPages>(() => RenderedPages.Create(routes), LazyThreadSafetyMode.ExecutionAndPublication);
        IResult Page(string file) => TypedResults.Bytes(rendered.Value.Html[file], "text/html; charset=utf-8");

        var pages = routes.MapGroup("").ExcludeFromDescription().AddEndpointFilter(async (context, next) =>
        {
            var headers = context.HttpContext.Response.Headers;
            headers.ContentSecurityPolicy = rendered.Value.ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "same-origin";
            // Pages are behind a session: never keep them in a shared or back-button cache.
            headers.CacheControl = "no-store";
            return await next(context);
        });

        pages.MapGet("/", () => Page("index.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/tenants/{id:long}", (long id) => Page("tenant.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/plans", () => Page("plans.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/routes", () => Page("routes.html")).RequireAuthorization(AdminPolicies.SuperAdmin);
        pages.MapGet("/webhooks", () => Page("webhooks.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/setup", () => Page("setup.html")).RequireAuthorization(AdminPolicies.SuperAdmin);
        pages.MapGet("/admins", () => Page("admins.html")).RequireAuthorization(AdminPolicies.SuperAdmin);
        pages.MapGet("/audit", () => Page("audit.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/account", () => Page("account.html")).RequireAuthorization(AdminPolicies.SignedIn);
        pages.MapGet("/login", () => Page("login.html")).AllowAnonymous();
        return routes;
    }

    /// <summary>A root-relative URL in a <c>src</c> or <c>href</c> attribute.</summary>
    [GeneratedRegex("""(?<=\s(?:src|href)=")/[^"?#]+(?=")""")]
    private static partial Regex AssetUrl();

    /// <summary>Every page as sent (UTF-8), by file name, and the policy that admits its import map.</summary>
    private sealed record RenderedPages(FrozenDictionary<string, byte[]> Html, string ContentSecurityPolicy)
    {
        public static RenderedPages Create(IEndpointRouteBuilder routes)
        {
            var fingerprinted = FingerprintedUrls(routes);
            var importMap = ImportMap(fingerprinted);
            var scriptHash = importMap is null
                ? ""
                : $" 'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(importMap)))}'";

            var assembly = typeof(Pages).Assembly;
            var html = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
            {
                var text = AssetUrl().Replace(Read(assembly, name), url => fingerprinted.GetValueOrDefault(url.Value, url.Value));
                var firstScript = text.IndexOf("<script", StringComparison.Ordinal);
                if (importMap is not null && firstScript >= 0)
                {
                    // Before any module is fetched, or the browser would resolve imports without it.
                    text = text.Insert(firstScript, $"<script type=\"importmap\">{importMap}</script>\n  ");
                }

                html[name[ResourcePrefix.Length..]] = Encoding.UTF8.GetBytes(text);
            }

            return new RenderedPages(
                html.ToFrozenDictionary(StringComparer.Ordinal),
                Pages.ContentSecurityPolicy.Replace(ImportMapHash, scriptHash, StringComparison.Ordinal));
        }

        /// <summary>
        /// <c>/app.css</c> → <c>/app.{fingerprint}.css</c> for every asset of the static assets manifest. Read from the
        /// endpoints MapStaticAssets made, so the pages name exactly the URLs that are served.
        /// </summary>
        private static Dictionary<string, string> FingerprintedUrls(IEndpointRouteBuilder routes)
        {
            var urls = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var endpoint in routes.DataSources.SelectMany(source => source.Endpoints))
            {
                // The uncompressed variant of each fingerprinted route (its compressed ones share its route).
                if (endpoint.Metadata.GetMetadata<StaticAssetDescriptor>() is { Selectors.Count: 0 } asset
                    && asset.Properties.FirstOrDefault(p => p.Name == "label")?.Value is { } label
                    && asset.Properties.Any(p => p.Name == "fingerprint"))
                {
                    urls.TryAdd("/" + label, "/" + asset.Route);
                }
            }

            return urls;
        }

        /// <summary>The import map of every script, so that <c>import './api.js'</c> loads the fingerprinted file too.</summary>
        private static string? ImportMap(Dictionary<string, string> fingerprinted)
        {
            var scripts = fingerprinted.Where(p => p.Key.EndsWith(".js", StringComparison.Ordinal)).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
            if (scripts.Count == 0)
            {
                return null;
            }

            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteStartObject("imports");
                foreach (var (url, fingerprintedUrl) in scripts)
                {
                    json.WriteString(url, fingerprintedUrl);
                }

                json.WriteEndObject();
                json.WriteEndObject();
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        private static string Read(Assembly assembly, string name)
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
    }
}
