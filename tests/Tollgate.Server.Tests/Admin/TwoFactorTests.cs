using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Time.Testing;
using OtpNet;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>Optional two-factor sign-in: TOTP (RFC 6238) with recovery codes; a code's time step works once.</summary>
public sealed class TwoFactorTests
{
    private const string Password = "a-long-enough-password";

    [Fact]
    public async Task WithTwoFactorOn_LoginNeedsACode_AndACodesTimeStepIsRefusedOnceUsed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new TollgateApp(time: time);
        var username = "mfa-" + Guid.NewGuid().ToString("N")[..8];
        using (var client = await app.AdminClientAsync("Viewer", null, username))
        {
            var setup = await (await client.PostAsJsonAsync("/api/auth/totp/setup", new { })).ReadJsonAsync();
            var secret = setup.GetProperty("secret").GetString()!;
            Assert.StartsWith("otpauth://totp/", setup.GetProperty("uri").GetString(), StringComparison.Ordinal);
            await (await client.PostAsJsonAsync("/api/auth/totp/enable", new { code = "123456x" })).ProblemAsync(400);
            var enabled = await client.PostAsJsonAsync("/api/auth/totp/enable", new { code = Code(secret, time) });
            Assert.Equal(HttpStatusCode.OK, enabled.StatusCode);
            var recovery = (await enabled.ReadJsonAsync()).GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!).ToList();
            Assert.Equal(10, recovery.Count);

            using var anonymous = app.CreateClient();
            var withoutCode = await (await anonymous.PostAsJsonAsync("/api/auth/login", new { username, password = Password })).ProblemAsync(401);
            Assert.True(withoutCode.GetProperty("twoFactorRequired").GetBoolean());
            // The code that turned two-factor on was of this time step: it does not log in.
            await (await anonymous.PostAsJsonAsync("/api/auth/login", new { username, password = Password, code = Code(secret, time) })).ProblemAsync(401);

            time.Advance(TimeSpan.FromSeconds(30));
            var code = Code(secret, time);
            Assert.Equal(HttpStatusCode.OK, (await anonymous.PostAsJsonAsync("/api/auth/login", new { username, password = Password, code })).StatusCode);
            using var replay = app.CreateClient();
            await (await replay.PostAsJsonAsync("/api/auth/login", new { username, password = Password, code })).ProblemAsync(401);

            // A recovery code works once.
            Assert.Equal(HttpStatusCode.OK, (await replay.PostAsJsonAsync("/api/auth/login", new { username, password = Password, code = recovery[0] })).StatusCode);
            await (await app.CreateClient().PostAsJsonAsync("/api/auth/login", new { username, password = Password, code = recovery[0] })).ProblemAsync(401);

            // Off again with the password: login needs no code.
            await (await client.PostAsJsonAsync("/api/auth/totp/disable", new { password = "wrong-password" })).ProblemAsync(400);
            Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsJsonAsync("/api/auth/totp/disable", new { password = Password })).StatusCode);
        }

        using var again = await app.LoginAsync(username, Password);
    }

    private static string Code(string secret, FakeTimeProvider time) =>
        new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(time.GetUtcNow().UtcDateTime);
}
