namespace Orders;

/// <summary>An order of one tenant.</summary>
/// <param name="Id">Unique in this process.</param>
/// <param name="Product">What was ordered.</param>
/// <param name="Quantity">How many.</param>
/// <param name="CreatedAt">When, in UTC.</param>
public sealed record Order(long Id, string Product, int Quantity, DateTimeOffset CreatedAt);

/// <summary>Body of <c>POST /orders</c>.</summary>
/// <param name="Product">What to order.</param>
/// <param name="Quantity">How many.</param>
public sealed record NewOrder(string? Product, int Quantity);
