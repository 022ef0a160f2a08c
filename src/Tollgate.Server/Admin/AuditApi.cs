using Microsoft.AspNetCore.Http.HttpResults;

namespace Tollgate.Admin;

/// <summary>
/// <c>GET /api/admin/audit?actor=&amp;tenantId=&amp;action=&amp;from=&amp;to=&amp;limit=&amp;before=</c>: the audit log,
/// newest first, as a JSON array (a page: pass the last id as <c>before</c> for the next one) or as CSV with
/// <c>Accept: text/csv</c>. A tenant admin or one-tenant viewer sees its tenant's entries only.
/// </summary>
internal static class AuditApi
{
    /// <summary>Entries of a page when <c>limit</c> is not given.</summary>
    public const int DefaultLimit = 100;

    /// <summary>Most entries of a page.</summary>
    public const int MaxLimit = 1000;

    /// <summary>Entries of a CSV export when <c>limit</c> is not given.</summary>
    public const int MaxCsvRows = 100_000;

    /// <summary>Maps the route on the admin group.</summary>
    public static void Map(RouteGroupBuilder admin) => admin.MapGet("/audit", GetAsync).WithTags("Audit");

    private static async Task<Results<Ok<List<AuditDto>>, PushStreamHttpResult, ValidationProblem>> GetAsync(
        HttpContext http, AuditQuery audit, string? actor, long? tenantId, string? action,
        DateTime? from, DateTime? to, int? limit, long? before, CancellationToken ct)
    {
        if (limit is < 1 or > MaxLimit)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxLimit}."] });
        }

        var filter = new AuditFilter(actor, tenantId, action, from?.ToUniversalTime(), to?.ToUniversalTime(), before);
        var scope = AdminScope.From(http.User);
        if (CsvExport.Wanted(http.Request))
        {
            var rows = audit.Stream(scope, filter, limit ?? MaxCsvRows);
            return TypedResults.Stream(stream => CsvExport.WriteAuditAsync(stream, rows, ct), CsvExport.ContentType, "tollgate-audit.csv");
        }

        return TypedResults.Ok(await audit.PageAsync(scope, filter, limit ?? DefaultLimit, ct));
    }
}
