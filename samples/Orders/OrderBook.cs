using System.Collections.Concurrent;

namespace Orders;

/// <summary>The orders, in memory: a sample needs no database of its own.</summary>
public sealed class OrderBook(TimeProvider time)
{
    private readonly ConcurrentDictionary<long, (long TenantId, Order Order)> _orders = new();
    private long _lastId;

    /// <summary>The tenant's orders, oldest first.</summary>
    public IReadOnlyList<Order> Of(long tenantId) =>
        [.. _orders.Values.Where(o => o.TenantId == tenantId).Select(o => o.Order).OrderBy(o => o.Id)];

    /// <summary>The tenant's order <paramref name="id"/>, or null when it does not exist or is another tenant's.</summary>
    public Order? Find(long tenantId, long id) =>
        _orders.TryGetValue(id, out var entry) && entry.TenantId == tenantId ? entry.Order : null;

    /// <summary>Adds an order for the tenant.</summary>
    public Order Add(long tenantId, string product, int quantity)
    {
        var order = new Order(Interlocked.Increment(ref _lastId), product, quantity, time.GetUtcNow());
        _orders[order.Id] = (tenantId, order);
        return order;
    }
}
