using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace Tollgate.Admin;

/// <summary>
/// The admin side's CSRF defence and cache rule, in front of <c>/api/auth</c>, <c>/api/admin</c> and
/// <c>/api/dashboard-data</c>:
/// <list type="bullet">
/// <item>a state-changing request whose <c>Origin</c> is another origin (or <c>null</c>), or whose
/// <c>Sec-Fetch-Site</c> is <c>cross-site</c>, gets 403 — a page on another port of the same host is another origin,
/// which SameSite cookies alone let through;</item>
/// <item>a POST, PUT or PATCH must say <c>Content-Type: application/json</c>, even with no body (else 415): a
/// cross-origin form or <c>no-cors</c> fetch cannot send that type without a CORS preflight, which Tollgate never
/// grants. DELETE is exempt: a browser never sends it cross-origin without such a preflight either;</item>
/// <item>every answer is <c>Cache-Control: no-store</c>: it can carry a key or password shown once.</item>
/// </list>
/// Requests without <c>Origin</c> and <c>Sec-Fetch-Site</c> (scripts, curl) are not from a browser page and pass.
/// </summary>
internal static class CrossSiteRequestGuard
{
    /// <summary>Adds the guard to an app branch.</summary>
    public static IApplicationBuilder UseCrossSiteRequestGuard(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var request = context.Request;
        if (!IsAdminApi(request.Path))
        {
            return next(context);
        }

        context.Response.Headers.CacheControl = "no-store";
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
        {
            return next(context);
        }

        if (string.Equals(request.Headers["Sec-Fetch-Site"], "cross-site", StringComparison.OrdinalIgnoreCase)
            || (request.Headers.Origin is { Count: > 0 } origin && !IsOwnOrigin(origin.ToString(), request)))
        {
            return Problem(context, StatusCodes.Status403Forbidden, "Forbidden",
                "A state-changing admin request must come from a page of this server (Origin and Sec-Fetch-Site).");
        }

        if (!HttpMethods.IsDelete(request.Method) && !IsJson(request.ContentType))
        {
            return Problem(context, StatusCodes.Status415UnsupportedMediaType, "Unsupported Media Type",
                "Send Content-Type: application/json, even with an empty body.");
        }

        return next(context);
    });

    private static bool IsAdminApi(PathString path) =>
        path.StartsWithSegments("/api/admin", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/api/auth", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/api/dashboard-data", StringComparison.OrdinalIgnoreCase);

    private static bool IsOwnOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase)
        && uri.AbsolutePath == "/";

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var type)
        && (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || type.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    private static Task Problem(HttpContext context, int status, string title, string detail) =>
        TypedResults.Problem(new ProblemDetails { Status = status, Title = title, Detail = detail }).ExecuteAsync(context);
}
