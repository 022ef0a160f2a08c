using Microsoft.AspNetCore.Http.HttpResults;

namespace Tollgate.Admin;

/// <summary><c>POST /api/admin/setup</c>: creates the demo (a POST, never a GET that changes data).</summary>
internal static class SetupApi
{
    /// <summary>Most days of simulated history one call may ask for.</summary>
    public const int MaxHistoryDays = 90;

    /// <summary>Maps the route on the admin group.</summary>
    public static void Map(RouteGroupBuilder admin) =>
        admin.MapPost("/setup", SetupAsync).RequireAuthorization(AdminPolicies.SuperAdmin).WithTags("Setup");

    private static async Task<Results<Ok<SetupResponse>, ValidationProblem>> SetupAsync(
        SetupRequest? request, HttpContext http, DemoData demo, CancellationToken ct)
    {
        request ??= new SetupRequest();
        if (request.HistoryDays is < 0 or > MaxHistoryDays)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["historyDays"] = [$"historyDays must be between 0 and {MaxHistoryDays}."],
            });
        }

        return TypedResults.Ok(await demo.RunAsync(request.Reset, request.HistoryDays, AdminScope.From(http.User), ct));
    }
}
