using System.Text.Json;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>
/// Adds audit entries to the same unit of work as the change they describe, so both commit or neither: an entry that
/// cannot be written takes its change down with it (the request then answers 500 and changes nothing).
/// </summary>
internal static class AuditTrail
{
    /// <summary>Adds an entry to the context's pending changes; the caller's next <c>SaveChanges</c> writes both.</summary>
    public static void Add(
        TollgateDbContext db, TimeProvider time, AdminScope actor, string action, string target, long? tenantId, object? details = null)
    {
        db.AuditLog.Add(new AuditEntry
        {
            Timestamp = time.GetUtcNow().UtcDateTime,
            Actor = actor.Username,
            Action = action,
            Target = target,
            TenantId = tenantId,
            Details = details is null ? null : JsonSerializer.Serialize(details, JsonSerializerOptions.Web),
        });
    }

    /// <summary>
    /// Saves the pending change and its entry in one transaction. Not left to <c>SaveChanges</c>' own: on MariaDB
    /// (MySql.EntityFrameworkCore) an UPDATE and the entry's INSERT sent together committed one by one, so a key
    /// revocation or an admin's role change stayed when its entry failed (AuditAtomicityTests found it).
    /// Inside a transaction the caller began, that one holds both.
    /// </summary>
    public static async Task SaveAsync(TollgateDbContext db, CancellationToken ct)
    {
        await using var own = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        await db.SaveChangesAsync(ct);
        if (own is not null)
        {
            await own.CommitAsync(ct);
        }
    }

    /// <summary>
    /// Saves the pending changes, then the entry <paramref name="addEntry"/> adds, in one transaction: for a change
    /// whose entry names an id the database generates on insert. Inside a transaction the caller began, that one holds both.
    /// </summary>
    public static async Task SaveWithEntryAsync(TollgateDbContext db, Action addEntry, CancellationToken ct)
    {
        await using var own = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        await db.SaveChangesAsync(ct);
        addEntry();
        await db.SaveChangesAsync(ct);
        if (own is not null)
        {
            await own.CommitAsync(ct);
        }
    }
}
