using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>
/// <c>GET /api/admin/tenants/{id}/statements?from=YYYY-MM&amp;to=YYYY-MM</c> and <c>…/statements/{month}</c>: a tenant's
/// monthly statements as JSON, or as CSV with <c>Accept: text/csv</c>. A tenant admin reads its own tenant's; any
/// other id is 404. The handlers check the query and the scope; the reading is <see cref="StatementQueries"/>'.
/// </summary>
internal static class StatementsApi
{
    /// <summary>Months of a list without <c>from</c>: a year, the current month included.</summary>
    public const int DefaultMonths = 12;

    /// <summary>Most months of one list: ten years.</summary>
    public const int MaxMonths = 120;

    /// <summary>Maps the routes on the admin group.</summary>
    public static void Map(RouteGroupBuilder admin)
    {
        var statements = admin.MapGroup("/tenants/{id:long}/statements").WithTags("Statements");
        statements.MapGet("", ListAsync);
        statements.MapGet("/{month}", GetAsync);
    }

    private static async Task<Results<Ok<List<StatementDto>>, PushStreamHttpResult, ValidationProblem, ProblemHttpResult>> ListAsync(
        long id, HttpContext http, StatementQueries statements, TenantDirectory directory, TimeProvider time,
        string? from, string? to, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var first = StatementMonth.Parse(from, "from", errors);
        var last = StatementMonth.Parse(to, "to", errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        // Without 'to', up to the current month; without 'from', a year up to 'to'.
        var end = last ?? StatementMonth.Of(time.GetUtcNow().UtcDateTime);
        var start = first ?? StatementMonth.FromOrdinal(Math.Max(end.Ordinal - (DefaultMonths - 1), StatementMonth.Earliest.Ordinal));
        if (start.Ordinal > end.Ordinal)
        {
            errors["from"] = [$"'from' ({start}) must not be after 'to' ({end})."];
        }
        else if (end.Ordinal - start.Ordinal + 1 > MaxMonths)
        {
            errors["from"] = [$"{end.Ordinal - start.Ordinal + 1} months is more than {MaxMonths}: ask for a shorter range."];
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (!TryResolve(http, directory, id, out var tenant))
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var list = await statements.MonthsAsync(tenant, start, end, ct);
        if (CsvExport.Wanted(http.Request))
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"tollgate-statements-{id}-{start}-to-{end}.csv");
            return TypedResults.Stream(stream => CsvExport.WriteStatementsAsync(stream, list, ct), CsvExport.ContentType, name);
        }

        return TypedResults.Ok(list);
    }

    private static async Task<Results<Ok<StatementDto>, PushStreamHttpResult, ValidationProblem, ProblemHttpResult>> GetAsync(
        long id, string month, HttpContext http, StatementQueries statements, TenantDirectory directory, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (StatementMonth.Parse(month, "month", errors) is not { } asked)
        {
            return AdminValidation.Problem(errors);
        }

        if (!TryResolve(http, directory, id, out var tenant))
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var list = await statements.MonthsAsync(tenant, asked, asked, ct);
        if (CsvExport.Wanted(http.Request))
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"tollgate-statement-{id}-{asked}.csv");
            return TypedResults.Stream(stream => CsvExport.WriteStatementsAsync(stream, list, ct), CsvExport.ContentType, name);
        }

        return TypedResults.Ok(list[0]);
    }

    /// <summary>
    /// The tenant, when the admin may see it. Its name and plan come from the in-memory directory, where the usage
    /// routes check their tenant too; a deleted tenant is gone from it, so its statements are 404 like the tenant.
    /// </summary>
    private static bool TryResolve(HttpContext http, TenantDirectory directory, long id, [NotNullWhen(true)] out TenantContext? tenant)
    {
        tenant = null;
        return AdminScope.From(http.User).CanSee(id) && directory.TryGet(id, out tenant);
    }
}
