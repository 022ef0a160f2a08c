using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>
/// The admin side's reads and changes of <c>api_keys</c>: create, revoke, rotate. Each change is saved with its audit
/// entry in one transaction, then announced on the change feed so every instance's key cache follows.
/// </summary>
internal sealed class KeyService(TollgateDbContext db, IChangeFeed changes, TimeProvider time)
{
    /// <summary>The tenant's keys, oldest first (never the keys themselves: only their visible start).</summary>
    public async Task<List<KeyDto>> ListAsync(long tenantId, CancellationToken ct)
    {
        var keys = await db.ApiKeys.AsNoTracking().Where(k => k.TenantId == tenantId).OrderBy(k => k.Id).ToListAsync(ct);
        return keys.Select(KeyDto.From).ToList();
    }

    /// <summary>Makes a key for the tenant; the answer holds the whole key, which is stored nowhere.</summary>
    public async Task<CreatedKeyDto> CreateAsync(long tenantId, string name, DateTime? expiresAt, AdminScope actor, CancellationToken ct)
    {
        var (key, entity) = NewKey(tenantId, name, time.GetUtcNow().UtcDateTime, expiresAt);
        db.ApiKeys.Add(entity);
        await AuditTrail.SaveWithEntryAsync(db, () =>
            AuditTrail.Add(db, time, actor, "key.create", $"key/{entity.Id}", tenantId, new { entity.Name, entity.Start, entity.ExpiresAt }), ct);
        await changes.KeyCreatedAsync(KeyHash.FromBytes(entity.Hash), ct);
        return new CreatedKeyDto(entity.Id, entity.Name, entity.Start, key);
    }

    /// <summary>The tracked entity of one of the tenant's keys, for a change; null when the tenant has no such key.</summary>
    public Task<ApiKey?> LoadAsync(long tenantId, long keyId, CancellationToken ct) =>
        db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId && k.TenantId == tenantId, ct);

    /// <summary>Whether a key still lets requests in at <paramref name="now"/> (neither revoked nor expired).</summary>
    public static bool Works(ApiKey key, DateTime now) => key.RevokedAt is null && !(key.ExpiresAt <= now);

    /// <summary>Revokes a key with its audit entry; revoking twice keeps the first time.</summary>
    public async Task RevokeAsync(ApiKey key, AdminScope actor, CancellationToken ct)
    {
        // Revoking keeps the row (its usage history refers to it).
        key.RevokedAt ??= time.GetUtcNow().UtcDateTime;
        AuditTrail.Add(db, time, actor, "key.revoke", $"key/{key.Id}", key.TenantId, new { key.Name, key.Start });
        await AuditTrail.SaveAsync(db, ct);
        await changes.KeyRevokedAsync(KeyHash.FromBytes(key.Hash), ct);
    }

    /// <summary>
    /// Makes a new key for the tenant of an existing one and lets the old one work for a grace period: clients move to
    /// the new key without an outage. The new key belongs to the same tenant, so usage history and quota stay one.
    /// The old key's row is not revoked but given an expiry (never later than the one it had), which every instance
    /// learns through the change feed.
    /// </summary>
    public async Task<CreatedKeyDto> RotateAsync(ApiKey old, TimeSpan grace, DateTime? expiresAt, AdminScope actor, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var graceEnds = now + grace;
        old.ExpiresAt = old.ExpiresAt is { } e && e < graceEnds ? e : graceEnds;
        var (key, entity) = NewKey(old.TenantId, old.Name, now, expiresAt);
        db.ApiKeys.Add(entity);
        await AuditTrail.SaveWithEntryAsync(db, () =>
            AuditTrail.Add(db, time, actor, "key.rotate", $"key/{old.Id}", old.TenantId,
                new { oldKeyId = old.Id, newKeyId = entity.Id, entity.Name, entity.Start, oldKeyExpiresAt = old.ExpiresAt }), ct);

        // Every instance learns the new key and forgets the old one, so its next use reads the new expiry.
        await changes.KeyCreatedAsync(KeyHash.FromBytes(entity.Hash), ct);
        await changes.KeyRevokedAsync(KeyHash.FromBytes(old.Hash), ct);
        return new CreatedKeyDto(entity.Id, entity.Name, entity.Start, key);
    }

    /// <summary>Makes a key and the row that stores its hash; the key itself is never stored.</summary>
    internal static (string Key, ApiKey Entity) NewKey(long tenantId, string name, DateTime now, DateTime? expiresAt)
    {
        var key = ApiKeyFormat.Generate();
        return (key, new ApiKey
        {
            TenantId = tenantId,
            Name = name,
            Hash = ApiKeyFormat.HashToBytes(key),
            Start = ApiKeyFormat.StartOf(key),
            CreatedAt = now,
            ExpiresAt = expiresAt,
        });
    }
}
