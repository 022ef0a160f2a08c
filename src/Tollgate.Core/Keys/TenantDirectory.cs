using System.Collections.Frozen;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;

namespace Tollgate.Keys;

/// <summary>
/// Every tenant with its effective limits, held in memory as a frozen snapshot that is rebuilt whole when an admin
/// changes a tenant or plan. Readers never lock and never touch the database.
/// </summary>
public sealed class TenantDirectory(IServiceScopeFactory scopes) : IDisposable
{
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private FrozenDictionary<long, TenantContext> _tenants = FrozenDictionary<long, TenantContext>.Empty;
    private TenantContext[] _ordered = [];

    /// <summary>All tenants, ordered by name.</summary>
    public IReadOnlyList<TenantContext> All => _ordered;

    /// <summary>Finds a tenant by id.</summary>
    public bool TryGet(long tenantId, out TenantContext tenant) => _tenants.TryGetValue(tenantId, out tenant!);

    /// <inheritdoc />
    public void Dispose() => _reloadGate.Dispose();

    /// <summary>Reloads every tenant and plan from the database.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        await _reloadGate.WaitAsync(cancellationToken);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var plans = await db.Plans.AsNoTracking().ToDictionaryAsync(p => p.Id, cancellationToken);
            var tenants = await db.Tenants.AsNoTracking().ToListAsync(cancellationToken);
            var contexts = tenants.Select(t => TenantContext.From(t, plans[t.PlanId])).ToList();
            _ordered = [.. contexts.OrderBy(t => t.Name, StringComparer.OrdinalIgnoreCase)];
            _tenants = contexts.ToFrozenDictionary(t => t.Id);
        }
        finally
        {
            _reloadGate.Release();
        }
    }
}
