using System.Globalization;
using System.Text;
using Microsoft.Net.Http.Headers;

namespace Tollgate.Admin;

/// <summary>
/// The CSV exports of the request log, the audit log and the monthly statements: content negotiation, RFC 4180 fields,
/// and the writers that stream rows to the response as the database hands them over, so a log export never sits in
/// memory whole (statements are at most 120 rows).
/// </summary>
internal static class CsvExport
{
    /// <summary>Content type of every export.</summary>
    public const string ContentType = "text/csv; charset=utf-8";

    /// <summary>CSV when the client lists <c>text/csv</c> and does not prefer JSON to it.</summary>
    public static bool Wanted(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var accept))
        {
            return false;
        }

        double csv = 0, json = 0;
        foreach (var media in accept)
        {
            var quality = media.Quality ?? 1;
            if (media.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase))
            {
                csv = Math.Max(csv, quality);
            }
            else if (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json, quality);
            }
        }

        return csv > 0 && csv >= json;
    }

    /// <summary>Writes the request log, one line per row.</summary>
    public static async Task WriteLogsAsync(Stream stream, IAsyncEnumerable<LogEntryDto> rows, CancellationToken ct)
    {
        await using var writer = NewWriter(stream);
        await writer.WriteAsync("id,timestamp,tenant_id,api_key_id,method,endpoint,status_code,latency_ms,outcome\n");
        var line = new StringBuilder(128);
        await foreach (var l in rows.WithCancellation(ct))
        {
            line.Clear()
                .Append(l.Id.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(Time(l.Timestamp)).Append(',')
                .Append(l.TenantId.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(l.ApiKeyId.ToString(CultureInfo.InvariantCulture)).Append(',');
            AppendField(line, l.Method).Append(',');
            AppendField(line, l.Endpoint).Append(',')
                .Append(l.StatusCode.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(l.LatencyMs.ToString("0.###", CultureInfo.InvariantCulture)).Append(',')
                .Append(l.Outcome.ToString()).Append('\n');
            await writer.WriteAsync(line, ct);
        }

        await writer.FlushAsync(ct);
    }

    /// <summary>Writes the audit log, one line per entry.</summary>
    public static async Task WriteAuditAsync(Stream stream, IAsyncEnumerable<AuditDto> rows, CancellationToken ct)
    {
        await using var writer = NewWriter(stream);
        await writer.WriteAsync("id,timestamp,actor,action,target,tenant_id,details\n");
        var line = new StringBuilder(256);
        await foreach (var a in rows.WithCancellation(ct))
        {
            line.Clear()
                .Append(a.Id.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(Time(a.Timestamp)).Append(',');
            AppendField(line, a.Actor).Append(',');
            AppendField(line, a.Action).Append(',');
            AppendField(line, a.Target).Append(',')
                .Append(a.TenantId?.ToString(CultureInfo.InvariantCulture)).Append(',');
            AppendField(line, a.Details ?? "").Append('\n');
            await writer.WriteAsync(line, ct);
        }

        await writer.FlushAsync(ct);
    }

    /// <summary>
    /// Writes monthly statements, one line per month, under the JSON's member names: a finance team's spreadsheet and
    /// a script reading the JSON see the same columns.
    /// </summary>
    public static async Task WriteStatementsAsync(Stream stream, IEnumerable<StatementDto> rows, CancellationToken ct)
    {
        await using var writer = NewWriter(stream);
        await writer.WriteAsync("tenantId,tenantName,plan,month,from,to,requests,admitted,rateLimited,quotaExceeded,errors,p50Ms,p95Ms,p99Ms,complete\n");
        var line = new StringBuilder(256);
        foreach (var s in rows)
        {
            line.Clear()
                .Append(s.TenantId.ToString(CultureInfo.InvariantCulture)).Append(',');
            AppendField(line, s.TenantName).Append(',');
            AppendField(line, s.Plan).Append(',')
                .Append(s.Month).Append(',')
                // Month bounds are whole seconds: written as the JSON writes them, without a fraction.
                .Append(s.From.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)).Append(',')
                .Append(s.To.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)).Append(',')
                .Append(s.Requests.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(s.Admitted.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(s.RateLimited.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(s.QuotaExceeded.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(s.Errors.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(s.P50Ms?.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(s.P95Ms?.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(s.P99Ms?.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(s.Complete ? "true" : "false").Append('\n');
            await writer.WriteAsync(line, ct);
        }

        await writer.FlushAsync(ct);
    }

    /// <summary>
    /// RFC 4180 quoting, and a leading apostrophe for a field a spreadsheet would run as a formula (OWASP's
    /// CSV-injection advice). Route templates start with '/', so this is for stored values nobody expected.
    /// </summary>
    public static StringBuilder AppendField(StringBuilder line, string value)
    {
        var formula = value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r';
        var quote = formula || value.AsSpan().IndexOfAny(",\"\r\n") >= 0;
        if (!quote)
        {
            return line.Append(value);
        }

        line.Append('"');
        if (formula)
        {
            line.Append('\'');
        }

        return line.Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }

    private static string Time(DateTime at) => at.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static StreamWriter NewWriter(Stream stream) =>
        new(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 64 * 1024);
}
