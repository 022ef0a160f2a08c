namespace Tollgate.Keys;

/// <summary>Finds the tenant behind a presented API key.</summary>
public interface IApiKeyStore
{
    /// <summary>Looks a presented key up. Served from memory for known keys; reads the database on a miss.</summary>
    ValueTask<KeyLookup> FindAsync(string? presentedKey, CancellationToken cancellationToken = default);

    /// <summary>Forgets a key (revoked, deleted) so its next use is checked against the database.</summary>
    void Evict(KeyHash hash);

    /// <summary>Forgets every key of a tenant (deleted).</summary>
    void EvictTenant(long tenantId);
}

/// <summary>Why a key was refused, or that it was found.</summary>
public enum KeyLookupResult
{
    /// <summary>The key is valid and its tenant exists.</summary>
    Found,

    /// <summary>No <c>X-API-KEY</c> header.</summary>
    Missing,

    /// <summary>Not a key this system issued (wrong shape, unknown hash, deleted tenant).</summary>
    Unknown,

    /// <summary>The key was revoked.</summary>
    Revoked,

    /// <summary>The key has expired.</summary>
    Expired,
}

/// <summary>The answer of <see cref="IApiKeyStore.FindAsync"/>.</summary>
/// <param name="Result">Found or why not.</param>
/// <param name="Caller">The key and tenant, when found.</param>
public readonly record struct KeyLookup(KeyLookupResult Result, ApiCaller? Caller);

/// <summary>Who is calling: the key and its tenant. Handlers read it from <c>HttpContext.Features</c>.</summary>
/// <param name="KeyId">The key's id.</param>
/// <param name="Tenant">The key's tenant.</param>
public sealed record ApiCaller(long KeyId, TenantContext Tenant);
