using System.Collections.Concurrent;
using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>
/// Decides whether a login may even be tried, before a password hash is computed (each costs a PBKDF2 run).
/// Per user name the failures are the <c>login.failure</c> rows of the audit log, which every instance shares, so
/// five failures lock the name on all of them; per client address the count is this instance's own, in memory,
/// because it guards this instance's CPU.
/// </summary>
internal sealed class LoginThrottle(TimeProvider time, IOptions<LoginThrottleOptions> options)
{
    /// <summary>Audit action of a failed login.</summary>
    public const string FailureAction = "login.failure";

    /// <summary>Audit action of a successful login.</summary>
    public const string SuccessAction = "login.success";

    private readonly ConcurrentDictionary<string, AddressWindow> _addresses = new();

    /// <summary>The audit target a login attempt is recorded under: the name as typed, lower-cased.</summary>
    public static string TargetOf(string username) => username.ToLowerInvariant();

    /// <summary>How long the client address must wait, or null when it may try.</summary>
    public TimeSpan? AddressRetryAfter(IPAddress? address)
    {
        var now = time.GetUtcNow();
        if (_addresses.TryGetValue(KeyOf(address), out var window) && window.Count >= options.Value.MaxFailuresPerAddress)
        {
            var ends = window.Start + options.Value.Window;
            if (ends > now)
            {
                return ends - now;
            }
        }

        return null;
    }

    /// <summary>Counts a failure against the client address.</summary>
    public void AddressFailed(IPAddress? address)
    {
        var now = time.GetUtcNow();
        var window = options.Value.Window;
        _addresses.AddOrUpdate(
            KeyOf(address),
            _ => new AddressWindow(now, 1),
            (_, w) => w.Start + window <= now ? new AddressWindow(now, 1) : w with { Count = w.Count + 1 });
        if (_addresses.Count > 100_000)
        {
            // A flood from many addresses must not grow this without bound: drop the windows that have passed.
            foreach (var (key, w) in _addresses)
            {
                if (w.Start + window <= now)
                {
                    _addresses.TryRemove(key, out _);
                }
            }
        }
    }

    /// <summary>
    /// How long the user name must wait, or null when it may try: locked when its last
    /// <see cref="LoginThrottleOptions.MaxFailuresPerUsername"/> attempts within the window all failed (a success
    /// starts the count again, as Identity's lockout does), until the oldest of them leaves the window.
    /// </summary>
    public async Task<TimeSpan?> UsernameRetryAfterAsync(TollgateDbContext db, string username, CancellationToken ct)
    {
        var max = options.Value.MaxFailuresPerUsername;
        var now = time.GetUtcNow().UtcDateTime;
        var since = now - options.Value.Window;
        var target = TargetOf(username);
        var recent = await db.AuditLog.AsNoTracking()
            .Where(a => a.Target == target && a.Timestamp > since && (a.Action == FailureAction || a.Action == SuccessAction))
            .OrderByDescending(a => a.Timestamp).ThenByDescending(a => a.Id)
            .Take(max)
            .Select(a => new { a.Action, a.Timestamp })
            .ToListAsync(ct);
        if (recent.Count < max || recent.Any(a => a.Action == SuccessAction))
        {
            return null;
        }

        var ends = recent[^1].Timestamp + options.Value.Window;
        return ends > now ? ends - now : null;
    }

    private static string KeyOf(IPAddress? address) => address?.ToString() ?? "unknown";

    private sealed record AddressWindow(DateTimeOffset Start, int Count);
}
