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

    // The sessions this instance validated last, by key hash: while the database is away (the outage the dashboard's
    // banner is about) an admin who was signed in stays signed in until the session's own end. Nobody can log out or
    // change a role meanwhile either: those are database writes too.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (byte[] Ticket, DateTime EndsAt)> _validated = new();

    /// <inheritdoc />
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
        var idleEnd = now + options.Value.IdleTimeout;
        var absoluteEnd = now + options.Value.AbsoluteLifetime;
        _validated[Convert.ToHexString(hash)] = (TicketSerializer.Default.Serialize(ticket), idleEnd < absoluteEnd ? idleEnd : absoluteEnd);
        return key;
    }

    /// <inheritdoc />
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

    /// <inheritdoc />
    public async Task<AuthenticationTicket?> RetrieveAsync(string key)
    {
        var hash = Hash(key);
        var hex = Convert.ToHexString(hash);
        var now = time.GetUtcNow().UtcDateTime;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        AdminSession? session;
        try
        {
            session = await db.AdminSessions.AsNoTracking().FirstOrDefaultAsync(s => s.KeyHash == hash);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
        {
            // The database is away: the session as this instance last saw it, if it has not ended by its own clock.
            return _validated.TryGetValue(hex, out var known) && known.EndsAt > now ? TicketSerializer.Default.Deserialize(known.Ticket) : null;
        }

        if (session is null)
        {
            _validated.TryRemove(hex, out _);
            return null;
        }

        if (session.ExpiresAt <= now || session.LastSeenAt + options.Value.IdleTimeout <= now)
        {
            _validated.TryRemove(hex, out _);
            await db.AdminSessions.Where(s => s.KeyHash == hash).ExecuteDeleteAsync();
            return null;
        }

        if (now - session.LastSeenAt >= TouchInterval)
        {
            try
            {
                await db.AdminSessions.Where(s => s.KeyHash == hash).ExecuteUpdateAsync(u => u.SetProperty(s => s.LastSeenAt, now));
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                // A full disk or a read-only database still lets the admin read: the touch is bookkeeping.
            }
        }

        if (_validated.Count > 10_000)
        {
            _validated.Clear(); // Bounded: only a cache for outages.
        }

        var endsAt = session.ExpiresAt < session.LastSeenAt + options.Value.IdleTimeout ? session.ExpiresAt : session.LastSeenAt + options.Value.IdleTimeout;
        _validated[hex] = (session.Ticket, endsAt);
        return TicketSerializer.Default.Deserialize(session.Ticket);
    }

    /// <inheritdoc />
    public async Task RemoveAsync(string key)
    {
        var hash = Hash(key);
        _validated.TryRemove(Convert.ToHexString(hash), out _);
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
