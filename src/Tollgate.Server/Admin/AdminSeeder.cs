using System.Buffers.Text;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>
/// On first start of an empty database, creates the super admin <c>admin</c>; prints its password once when it was
/// generated. Then, when <c>Tollgate:Demo</c> is true and there are no tenants, creates the demo data.
/// </summary>
internal sealed partial class AdminSeeder(
    IServiceScopeFactory scopes,
    IOptions<AdminOptions> adminOptions,
    IOptions<TollgateOptions> tollgateOptions,
    DemoData demo,
    TimeProvider time,
    ILogger<AdminSeeder> logger) : IStartupSeeder
{
    /// <inheritdoc />
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            if (!await db.Admins.AnyAsync(cancellationToken))
            {
                var configured = adminOptions.Value.Password;
                var password = string.IsNullOrEmpty(configured) ? GeneratePassword() : configured;
                var admin = new Data.Admin
                {
                    Username = "admin",
                    PasswordHash = "",
                    Role = AdminRole.SuperAdmin,
                    CreatedAt = time.GetUtcNow().UtcDateTime,
                };
                admin.PasswordHash = new PasswordHasher<Data.Admin>().HashPassword(admin, password);
                db.Admins.Add(admin);
                await db.SaveChangesAsync(cancellationToken);
                if (string.IsNullOrEmpty(configured))
                {
                    // The one secret Tollgate ever logs, once: without it nobody could log in.
                    LogGeneratedPassword(logger, password);
                }
                else
                {
                    LogConfiguredPassword(logger);
                }
            }

            if (!tollgateOptions.Value.Demo || await db.Tenants.AnyAsync(cancellationToken))
            {
                return;
            }
        }

        var result = await demo.RunAsync(reset: false, historyDays: 7, new AdminScope("system", AdminRole.SuperAdmin, null), cancellationToken);
        LogDemo(logger, result.Tenants.Count);
    }

    private static string GeneratePassword()
    {
        Span<byte> bytes = stackalloc byte[15];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message =
        "Created super admin 'admin' with the generated password: {Password} — it is shown this once; set Tollgate:Admin:Password to choose one")]
    private static partial void LogGeneratedPassword(ILogger logger, string password);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created super admin 'admin' with the password from Tollgate:Admin:Password")]
    private static partial void LogConfiguredPassword(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message =
        "Tollgate:Demo: created {Count} demo tenants with a week of simulated traffic; make their API keys on /setup")]
    private static partial void LogDemo(ILogger logger, int count);
}
