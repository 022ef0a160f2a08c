using System.Buffers.Text;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>
/// The cookie handler's <see cref="ITicketStore"/>: sessions live in <c>admin_sessions</c>, which every instance
/// shares, and the cookie carries only a random key. Deleting an admin's rows ends its sessions at once everywhere;
/// the next request with the old cookie finds nothing and gets 401. A database row rather than Redis: the admin side
/// already needs the database for every page, sessions must survive a Redis flush, and one admin request costs one
/// indexed primary-key read more.
/// </summary>
internal sealed class AdminSessionStore(IServiceScopeFactory scopes, TimeProvider time, IOptions<AdminSessionOptions> options) : ITicketStore
{
    /// <summary>Claim holding the hash of the session's own key, so a handler can end "every other" session.</summary>
    public const string SessionClaim = "tollgate:session";

    // LastSeenAt drives the idle timeout; writing it on every admin request would turn each read into a write.
    private static readonly TimeSpan TouchInterval = TimeSpan.FromMinutes(1);

    public async Task<string> StoreAsync(AuthenticationTicket ticket)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var key = NewKey();
        var hash = Hash(key);
        var adminId = long.Parse(ticket.Principal.FindFirstValue(ClaimTypes.NameIdentifier) ?? "0", CultureInfo.InvariantCulture);
        if (ticket.Principal.Identity is ClaimsIdentity identity && !identity.HasClaim(c => c.Type == SessionClaim))
        {
            identity.AddClaim(new Claim(SessionClaim, Convert.ToHexString(hash)));
        }

        var now = time.GetUtcNow().UtcDateTime;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        // Logins are rare: clearing ended sessions here keeps the table at the size of the live ones without a timer.
        await db.AdminSessions.Where(s => s.ExpiresAt <= now).ExecuteDeleteAsync();
        db.AdminSessions.Add(new AdminSession
        {
            KeyHash = hash,
            AdminId = adminId,
            Ticket = TicketSerializer.Default.Serialize(ticket),
            CreatedAt = now,
            LastSeenAt = now,
            ExpiresAt = now + options.Value.AbsoluteLifetime,
        });
        await db.SaveChangesAsync();
        return key;
    }

    public async Task RenewAsync(string key, AuthenticationTicket ticket)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var hash = Hash(key);
        var bytes = TicketSerializer.Default.Serialize(ticket);
        var now = time.GetUtcNow().UtcDateTime;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        await db.AdminSessions.Where(s => s.KeyHash == hash)
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.Ticket, bytes).SetProperty(s => s.LastSeenAt, now));
    }

    public async Task<AuthenticationTicket?> RetrieveAsync(string key)
    {
        var hash = Hash(key);
        var now = time.GetUtcNow().UtcDateTime;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var session = await db.AdminSessions.AsNoTracking().FirstOrDefaultAsync(s => s.KeyHash == hash);
        if (session is null)
        {
            return null;
        }

        if (session.ExpiresAt <= now || session.LastSeenAt + options.Value.IdleTimeout <= now)
        {
            await db.AdminSessions.Where(s => s.KeyHash == hash).ExecuteDeleteAsync();
            return null;
        }

        if (now - session.LastSeenAt >= TouchInterval)
        {
            await db.AdminSessions.Where(s => s.KeyHash == hash).ExecuteUpdateAsync(u => u.SetProperty(s => s.LastSeenAt, now));
        }

        return TicketSerializer.Default.Deserialize(session.Ticket);
    }

    public async Task RemoveAsync(string key)
    {
        var hash = Hash(key);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        await db.AdminSessions.Where(s => s.KeyHash == hash).ExecuteDeleteAsync();
    }

    /// <summary>
    /// Ends every session of an admin, except the one whose key hash is <paramref name="keep"/>, in the caller's unit
    /// of work: marked for deletion, they go with the change that ends them (password, role, deletion) or not at all.
    /// </summary>
    public static async Task EndSessionsAsync(TollgateDbContext db, long adminId, string? keep, CancellationToken ct)
    {
        var sessions = await db.AdminSessions.Where(s => s.AdminId == adminId).ToListAsync(ct);
        db.AdminSessions.RemoveRange(sessions.Where(s => keep is null || Convert.ToHexString(s.KeyHash) != keep));
    }

    private static string NewKey()
    {
        Span<byte> bytes = stackalloc byte[32];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    private static byte[] Hash(string key) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key));
}
