using System.Buffers.Text;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>
/// The owner of the <c>admins</c> table: accounts, passwords and the sessions a change of them ends. Each change is
/// saved with its audit entry and the end of the sessions it ends, in one transaction.
/// </summary>
internal sealed class AdminAccounts(TollgateDbContext db, LoginThrottle throttle, TimeProvider time)
{
    /// <summary>Shortest password an admin may set.</summary>
    public const int MinPasswordLength = 12;

    /// <summary>Longest password accepted (PBKDF2 cost grows with it).</summary>
    public const int MaxPasswordLength = 1024;

    private static readonly PasswordHasher<Data.Admin> Hasher = new();

    // Verifying against a fixed hash when the user does not exist makes a wrong name cost as much as a wrong
    // password, so timing does not reveal which admin names exist.
    private static readonly Lazy<string> DummyHash = new(() =>
        Hasher.HashPassword(new Data.Admin { Username = "", PasswordHash = "" }, Guid.NewGuid().ToString()));

    /// <summary>
    /// How long a login for <paramref name="username"/> from <paramref name="address"/> must wait, or null when it may
    /// be tried. Both limits are checked before any password is hashed: a throttled attempt costs one indexed read,
    /// not a PBKDF2 run.
    /// </summary>
    public async Task<TimeSpan?> LoginRetryAfterAsync(string username, System.Net.IPAddress? address, CancellationToken ct) =>
        throttle.AddressRetryAfter(address) ?? await throttle.UsernameRetryAfterAsync(db, username, ct);

    /// <summary>How long checks of <paramref name="username"/>'s password must wait after failed logins, or null.</summary>
    public Task<TimeSpan?> UsernameRetryAfterAsync(string username, CancellationToken ct) => throttle.UsernameRetryAfterAsync(db, username, ct);

    /// <summary>The admin with this name and password, or null (after the same work either way).</summary>
    public async Task<Data.Admin?> VerifyAsync(string username, string password, CancellationToken ct)
    {
        var admin = await db.Admins.FirstOrDefaultAsync(a => a.Username == username, ct);
        if (admin is null)
        {
            Hasher.VerifyHashedPassword(new Data.Admin { Username = "", PasswordHash = "" }, DummyHash.Value, password);
            return null;
        }

        var result = Hasher.VerifyHashedPassword(admin, admin.PasswordHash, password);
        if (result == PasswordVerificationResult.Failed)
        {
            return null;
        }

        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            admin.PasswordHash = Hasher.HashPassword(admin, password);
        }

        return admin;
    }

    /// <summary>Records a login attempt (and a rehash, when verifying asked for one) in the audit log.</summary>
    public async Task RecordLoginAsync(string username, Data.Admin? admin, string? address, CancellationToken ct)
    {
        db.AuditLog.Add(new AuditEntry
        {
            Timestamp = time.GetUtcNow().UtcDateTime,
            Actor = Truncate(username),
            Action = admin is null ? LoginThrottle.FailureAction : LoginThrottle.SuccessAction,
            Target = Truncate(LoginThrottle.TargetOf(username)),
            TenantId = admin?.TenantId,
            Details = address is null ? null : System.Text.Json.JsonSerializer.Serialize(new { address }, System.Text.Json.JsonSerializerOptions.Web),
        });
        await AuditTrail.SaveAsync(db, ct);
    }

    /// <summary>Records a logout.</summary>
    public async Task RecordLogoutAsync(AdminScope scope, CancellationToken ct)
    {
        AuditTrail.Add(db, time, scope, "logout", $"admin/{scope.AdminId}", scope.TenantId);
        await AuditTrail.SaveAsync(db, ct);
    }

    /// <summary>Every admin, by name.</summary>
    public async Task<List<AdminDto>> ListAsync(CancellationToken ct)
    {
        var admins = await db.Admins.AsNoTracking().OrderBy(a => a.Username).ToListAsync(ct);
        return admins.Select(AdminDto.From).ToList();
    }

    /// <summary>One admin, or null.</summary>
    public async Task<AdminDto?> FindAsync(long id, CancellationToken ct) =>
        await db.Admins.AsNoTracking().Where(a => a.Id == id).Select(a => new AdminDto(a.Id, a.Username, a.Role, a.TenantId)).FirstOrDefaultAsync(ct);

    /// <summary>Whether a tenant exists.</summary>
    public Task<bool> TenantExistsAsync(long tenantId, CancellationToken ct) => db.Tenants.AnyAsync(t => t.Id == tenantId, ct);

    /// <summary>Whether the name is taken.</summary>
    public Task<bool> UsernameTakenAsync(string username, CancellationToken ct) => db.Admins.AnyAsync(a => a.Username == username, ct);

    /// <summary>Creates an admin; a unique-name race ends in the unique index (409 from the error handler).</summary>
    public async Task<AdminDto> CreateAsync(string username, AdminRole role, long? tenantId, string password, AdminScope actor, CancellationToken ct)
    {
        var admin = new Data.Admin
        {
            Username = username,
            PasswordHash = "",
            Role = role,
            TenantId = tenantId,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        admin.PasswordHash = Hasher.HashPassword(admin, password);
        db.Admins.Add(admin);
        await AuditTrail.SaveWithEntryAsync(db, () =>
            AuditTrail.Add(db, time, actor, "admin.create", $"admin/{admin.Id}", tenantId, AdminDto.From(admin)), ct);
        return AdminDto.From(admin);
    }

    /// <summary>The tracked entity, for a change.</summary>
    public Task<Data.Admin?> LoadAsync(long id, CancellationToken ct) => db.Admins.FirstOrDefaultAsync(a => a.Id == id, ct);

    /// <summary>Whether another super admin than <paramref name="id"/> exists (the last one may not go).</summary>
    public Task<bool> AnotherSuperAdminExistsAsync(long id, CancellationToken ct) =>
        db.Admins.AnyAsync(a => a.Role == AdminRole.SuperAdmin && a.Id != id, ct);

    /// <summary>
    /// Saves a changed admin (role, tenant, password) with its audit entry; a change of role, tenant or password
    /// ends every session of the admin at once.
    /// </summary>
    public async Task UpdateAsync(Data.Admin admin, string? newPassword, AdminScope actor, CancellationToken ct)
    {
        if (newPassword is not null)
        {
            admin.PasswordHash = Hasher.HashPassword(admin, newPassword);
        }

        var entry = db.Entry(admin);
        var endsSessions = entry.Property(a => a.Role).IsModified || entry.Property(a => a.TenantId).IsModified || newPassword is not null;
        if (endsSessions)
        {
            await AdminSessionStore.EndSessionsAsync(db, admin.Id, keep: null, ct);
        }

        AuditTrail.Add(db, time, actor, "admin.update", $"admin/{admin.Id}", admin.TenantId,
            new { admin.Username, admin.Role, admin.TenantId, passwordChanged = newPassword is not null, sessionsEnded = endsSessions });
        await AuditTrail.SaveAsync(db, ct);
    }

    /// <summary>Deletes an admin; its sessions go with it (cascade), so its cookie gets 401 from the next request.</summary>
    public async Task DeleteAsync(Data.Admin admin, AdminScope actor, CancellationToken ct)
    {
        await AdminSessionStore.EndSessionsAsync(db, admin.Id, keep: null, ct);
        db.Admins.Remove(admin);
        AuditTrail.Add(db, time, actor, "admin.delete", $"admin/{admin.Id}", admin.TenantId, new { admin.Username, admin.Role });
        await AuditTrail.SaveAsync(db, ct);
    }

    /// <summary>
    /// Changes the signed-in admin's own password after checking the current one; every other session of the admin
    /// ends, the one making the change goes on. Null when the current password is wrong.
    /// </summary>
    public async Task<bool> ChangeOwnPasswordAsync(AdminScope scope, string current, string next, string? keepSession, CancellationToken ct)
    {
        var admin = await db.Admins.FirstOrDefaultAsync(a => a.Id == scope.AdminId, ct);
        if (admin is null || Hasher.VerifyHashedPassword(admin, admin.PasswordHash, current) == PasswordVerificationResult.Failed)
        {
            return false;
        }

        admin.PasswordHash = Hasher.HashPassword(admin, next);
        await AdminSessionStore.EndSessionsAsync(db, admin.Id, keepSession, ct);
        AuditTrail.Add(db, time, scope, "admin.password", $"admin/{admin.Id}", admin.TenantId);
        await AuditTrail.SaveAsync(db, ct);
        return true;
    }

    /// <summary>
    /// Checks the second factor of an admin with two-factor sign-in: a TOTP code of a step not used before, or an
    /// unused recovery code (which is then spent). The change is saved with the login's audit entry.
    /// </summary>
    public bool VerifySecondFactor(Data.Admin admin, string code)
    {
        if (admin.TotpSecret is null)
        {
            return false;
        }

        if (TwoFactor.Verify(admin.TotpSecret, code, time.GetUtcNow().UtcDateTime, admin.TotpLastStep) is { } step)
        {
            admin.TotpLastStep = step;
            return true;
        }

        if (TwoFactor.Consume(admin.RecoveryCodeHashes, code) is { } rest)
        {
            admin.RecoveryCodeHashes = rest;
            return true;
        }

        return false;
    }

    /// <summary>Starts setting up two-factor sign-in: a new secret, not asked for until confirmed. Null when it is on.</summary>
    public async Task<string?> BeginTwoFactorAsync(AdminScope scope, CancellationToken ct)
    {
        var admin = await db.Admins.FirstAsync(a => a.Id == scope.AdminId, ct);
        if (admin.TotpEnabled)
        {
            return null;
        }

        admin.TotpSecret = TwoFactor.NewSecret();
        admin.TotpLastStep = null;
        // Not asked for at login yet, but a new secret replaces any pending one: a change of the account like the others.
        AuditTrail.Add(db, time, scope, "admin.totp.setup", $"admin/{admin.Id}", admin.TenantId);
        await AuditTrail.SaveAsync(db, ct);
        return admin.TotpSecret;
    }

    /// <summary>Turns two-factor sign-in on once a code from the new secret is right; answers the recovery codes, or null.</summary>
    public async Task<string[]?> EnableTwoFactorAsync(AdminScope scope, string code, CancellationToken ct)
    {
        var admin = await db.Admins.FirstAsync(a => a.Id == scope.AdminId, ct);
        if (admin.TotpEnabled || admin.TotpSecret is null
            || TwoFactor.Verify(admin.TotpSecret, code, time.GetUtcNow().UtcDateTime, admin.TotpLastStep) is not { } step)
        {
            return null;
        }

        var (codes, hashes) = TwoFactor.NewRecoveryCodes();
        admin.TotpEnabled = true;
        admin.TotpLastStep = step;
        admin.RecoveryCodeHashes = hashes;
        AuditTrail.Add(db, time, scope, "admin.totp.enable", $"admin/{admin.Id}", admin.TenantId);
        await AuditTrail.SaveAsync(db, ct);
        return codes;
    }

    /// <summary>Turns two-factor sign-in off after checking the password; false when it is wrong.</summary>
    public async Task<bool> DisableTwoFactorAsync(AdminScope scope, string password, CancellationToken ct)
    {
        var admin = await db.Admins.FirstAsync(a => a.Id == scope.AdminId, ct);
        if (Hasher.VerifyHashedPassword(admin, admin.PasswordHash, password) == PasswordVerificationResult.Failed)
        {
            return false;
        }

        admin.TotpEnabled = false;
        admin.TotpSecret = null;
        admin.TotpLastStep = null;
        admin.RecoveryCodeHashes = null;
        AuditTrail.Add(db, time, scope, "admin.totp.disable", $"admin/{admin.Id}", admin.TenantId);
        await AuditTrail.SaveAsync(db, ct);
        return true;
    }

    /// <summary>A random password for an account created without one: 120 bits, URL-safe.</summary>
    public static string GeneratePassword()
    {
        Span<byte> bytes = stackalloc byte[15];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    private static string Truncate(string value) => value.Length <= 100 ? value : value[..100];
}
