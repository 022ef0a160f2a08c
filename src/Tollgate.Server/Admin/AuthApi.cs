using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary><c>/api/auth</c>: cookie sessions for admins.</summary>
internal static class AuthApi
{
    // Verifying against a fixed hash when the user does not exist makes a wrong name cost as much as a wrong
    // password, so timing does not reveal which admin names exist.
    private static readonly Lazy<string> DummyHash = new(() =>
        new PasswordHasher<Data.Admin>().HashPassword(new Data.Admin { Username = "", PasswordHash = "" }, Guid.NewGuid().ToString()));

    public static void Map(IEndpointRouteBuilder routes)
    {
        var auth = routes.MapGroup("/api/auth").WithTags("Auth");
        auth.MapPost("/login", LoginAsync).AllowAnonymous();
        auth.MapPost("/logout", LogoutAsync).AllowAnonymous();
        auth.MapGet("/me", Me).RequireAuthorization(AdminPolicies.Admin);
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult, ValidationProblem>> LoginAsync(
        LoginRequest request, HttpContext http, TollgateDbContext db, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.Username) || string.IsNullOrEmpty(request.Password)
            || request.Username.Length > 100 || request.Password.Length > 1024)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["credentials"] = ["A username (up to 100 characters) and a password (up to 1024) are required."],
            });
        }

        var hasher = new PasswordHasher<Data.Admin>();
        var admin = await db.Admins.FirstOrDefaultAsync(a => a.Username == request.Username, ct);
        if (admin is null)
        {
            hasher.VerifyHashedPassword(new Data.Admin { Username = "", PasswordHash = "" }, DummyHash.Value, request.Password);
            return Unauthorized();
        }

        var result = hasher.VerifyHashedPassword(admin, admin.PasswordHash, request.Password);
        if (result == PasswordVerificationResult.Failed)
        {
            return Unauthorized();
        }

        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            admin.PasswordHash = hasher.HashPassword(admin, request.Password);
            await db.SaveChangesAsync(ct);
        }

        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme,
            AdminScope.PrincipalFor(admin, CookieAuthenticationDefaults.AuthenticationScheme));
        return TypedResults.Ok(new LoginResponse(admin.Username, admin.Role, admin.TenantId));
    }

    private static async Task<NoContent> LogoutAsync(HttpContext http, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.NoContent();
    }

    private static Ok<LoginResponse> Me(HttpContext http)
    {
        var scope = AdminScope.From(http.User);
        return TypedResults.Ok(new LoginResponse(scope.Username, scope.Role, scope.TenantId));
    }

    private static ProblemHttpResult Unauthorized() =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: "Wrong user name or password.");
}
