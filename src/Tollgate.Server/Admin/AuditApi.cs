using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tollgate.Admin;

/// <summary>
/// <c>GET /api/admin/audit?actor=&amp;tenantId=&amp;action=&amp;from=&amp;to=&amp;limit=&amp;before=</c>: the audit log,
/// newest first, as a JSON array (a page: pass the last id as <c>before</c> for the next one) or as CSV with
/// <c>Accept: text/csv</c>. A tenant admin or one-tenant viewer sees its tenant's entries only.
/// </summary>
internal static class AuditApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const int MaxCsvRows = 100_000;

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
        if (UsageApi.WantsCsv(http.Request))
        {
            var rows = audit.Query(scope, filter).Take(limit ?? MaxCsvRows);
            return TypedResults.Stream(stream => WriteCsvAsync(stream, rows, ct), "text/csv; charset=utf-8", "tollgate-audit.csv");
        }

        return TypedResults.Ok(await audit.PageAsync(scope, filter, limit ?? DefaultLimit, ct));
    }

    private static async Task WriteCsvAsync(Stream stream, IQueryable<AuditDto> rows, CancellationToken ct)
    {
        await using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 64 * 1024);
        await writer.WriteAsync("id,timestamp,actor,action,target,tenant_id,details\n");
        var line = new StringBuilder(256);
        await foreach (var a in Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.AsAsyncEnumerable(rows).WithCancellation(ct))
        {
            line.Clear()
                .Append(a.Id.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(a.Timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)).Append(',');
            UsageApi.AppendCsvField(line, a.Actor).Append(',');
            UsageApi.AppendCsvField(line, a.Action).Append(',');
            UsageApi.AppendCsvField(line, a.Target).Append(',')
                .Append(a.TenantId?.ToString(CultureInfo.InvariantCulture)).Append(',');
            UsageApi.AppendCsvField(line, a.Details ?? "").Append('\n');
            await writer.WriteAsync(line, ct);
        }

        await writer.FlushAsync(ct);
    }
}
