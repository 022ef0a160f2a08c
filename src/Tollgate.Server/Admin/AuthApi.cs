using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tollgate.Admin;

/// <summary><c>/api/auth</c>: server-side cookie sessions for admins, login throttling and changing one's password.</summary>
internal static class AuthApi
{
    /// <summary>Maps <c>/api/auth</c>.</summary>
    public static void Map(IEndpointRouteBuilder routes)
    {
        var auth = routes.MapGroup("/api/auth").WithTags("Auth");
        auth.MapPost("/login", LoginAsync).AllowAnonymous();
        auth.MapPost("/logout", LogoutAsync).AllowAnonymous();
        auth.MapGet("/me", Me).RequireAuthorization(AdminPolicies.SignedIn);
        auth.MapPost("/password", ChangePasswordAsync).RequireAuthorization(AdminPolicies.SignedIn);
        auth.MapPost("/totp/setup", BeginTwoFactorAsync).RequireAuthorization(AdminPolicies.SignedIn);
        auth.MapPost("/totp/enable", EnableTwoFactorAsync).RequireAuthorization(AdminPolicies.SignedIn);
        auth.MapPost("/totp/disable", DisableTwoFactorAsync).RequireAuthorization(AdminPolicies.SignedIn);
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult, ValidationProblem>> LoginAsync(
        LoginRequest request, HttpContext http, AdminAccounts accounts, LoginThrottle throttle, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.Username) || string.IsNullOrEmpty(request.Password)
            || request.Username.Length > 100 || request.Password.Length > AdminAccounts.MaxPasswordLength || request.Code?.Length > 64)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["credentials"] = ["A username (up to 100 characters) and a password (up to 1024) are required."],
            });
        }

        var address = http.Connection.RemoteIpAddress;
        if (await accounts.LoginRetryAfterAsync(request.Username, address, ct) is { } retryAfter)
        {
            return TooManyAttempts(http, retryAfter);
        }

        var admin = await accounts.VerifyAsync(request.Username, request.Password, ct);
        if (admin is { TotpEnabled: true } && string.IsNullOrEmpty(request.Code))
        {
            // The password was right; nothing is counted until the second factor is tried.
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: "A two-factor code is required.", extensions: new Dictionary<string, object?> { ["twoFactorRequired"] = true });
        }

        if (admin is { TotpEnabled: true } && !accounts.VerifySecondFactor(admin, request.Code!))
        {
            admin = null;
        }

        await accounts.RecordLoginAsync(request.Username, admin, address?.ToString(), ct);
        if (admin is null)
        {
            throttle.AddressFailed(address);
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: "Wrong user name, password or code.");
        }

        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme,
            AdminScope.PrincipalFor(admin, CookieAuthenticationDefaults.AuthenticationScheme));
        return TypedResults.Ok(new LoginResponse(admin.Username, admin.Role, admin.TenantId));
    }

    private static async Task<NoContent> LogoutAsync(HttpContext http, AdminAccounts accounts, CancellationToken ct)
    {
        // The session row is deleted by the sign-out (the ticket store's RemoveAsync): the cookie is dead on every instance.
        var result = await http.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        if (result.Succeeded)
        {
            await accounts.RecordLogoutAsync(AdminScope.From(result.Principal), ct);
        }

        return TypedResults.NoContent();
    }

    private static Ok<LoginResponse> Me(HttpContext http)
    {
        var scope = AdminScope.From(http.User);
        return TypedResults.Ok(new LoginResponse(scope.Username, scope.Role, scope.TenantId));
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ChangePasswordAsync(
        ChangePasswordRequest request, HttpContext http, AdminAccounts accounts, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrEmpty(request.CurrentPassword) || request.CurrentPassword.Length > AdminAccounts.MaxPasswordLength)
        {
            errors["currentPassword"] = ["The current password is required."];
        }

        AdminValidation.Password(request.NewPassword, errors, "newPassword");
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        // A stolen session must not become a way to guess the password: the same throttle as login applies.
        if (await accounts.UsernameRetryAfterAsync(scope.Username, ct) is { } wait)
        {
            return TooManyAttempts(http, wait);
        }

        var keep = http.User.FindFirstValue(AdminSessionStore.SessionClaim);
        if (!await accounts.ChangeOwnPasswordAsync(scope, request.CurrentPassword!, request.NewPassword!, keep, ct))
        {
            await accounts.RecordLoginAsync(scope.Username, null, http.Connection.RemoteIpAddress?.ToString(), ct);
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["currentPassword"] = ["The current password is wrong."] });
        }

        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<TotpSetupDto>, ProblemHttpResult>> BeginTwoFactorAsync(
        HttpContext http, AdminAccounts accounts, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        return await accounts.BeginTwoFactorAsync(scope, ct) is { } secret
            ? TypedResults.Ok(new TotpSetupDto(secret, TwoFactor.UriFor(secret, scope.Username)))
            : AdminValidation.Conflict("Two-factor sign-in is on; turn it off first.");
    }

    private static async Task<Results<Ok<TotpEnabledDto>, ValidationProblem>> EnableTwoFactorAsync(
        TotpEnableRequest request, HttpContext http, AdminAccounts accounts, CancellationToken ct) =>
        await accounts.EnableTwoFactorAsync(AdminScope.From(http.User), request.Code ?? "", ct) is { } codes
            ? TypedResults.Ok(new TotpEnabledDto(codes))
            : TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["code"] = ["The code does not match the secret from POST /api/auth/totp/setup (or two-factor sign-in is already on)."],
            });

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DisableTwoFactorAsync(
        TotpDisableRequest request, HttpContext http, AdminAccounts accounts, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        // Like a password change: a stolen session must not become a way to guess the password.
        if (await accounts.UsernameRetryAfterAsync(scope.Username, ct) is { } wait)
        {
            return TooManyAttempts(http, wait);
        }

        if (!string.IsNullOrEmpty(request.Password) && request.Password.Length <= AdminAccounts.MaxPasswordLength
            && await accounts.DisableTwoFactorAsync(scope, request.Password, ct))
        {
            return TypedResults.NoContent();
        }

        await accounts.RecordLoginAsync(scope.Username, null, http.Connection.RemoteIpAddress?.ToString(), ct);
        return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["password"] = ["The password is wrong."] });
    }

    private static ProblemHttpResult TooManyAttempts(HttpContext http, TimeSpan wait)
    {
        var seconds = (long)Math.Ceiling(wait.TotalSeconds);
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too Many Requests",
            detail: $"Too many failed logins; try again in {seconds} s.");
    }
}
