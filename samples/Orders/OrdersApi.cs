using Microsoft.AspNetCore.Http.HttpResults;
using Tollgate.Keys;

namespace Orders;

/// <summary>The orders routes: each tenant sees and creates only its own orders.</summary>
public static class OrdersApi
{
    /// <summary>Longest product name accepted.</summary>
    public const int MaxProductLength = 100;

    /// <summary>Maps <c>/orders</c>; the caller decides whether the group is metered.</summary>
    public static RouteGroupBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        // A group without a prefix, so that usage is recorded under "/orders", not "/orders/" (a group's prefix and
        // an empty route combine into a template with a trailing slash).
        var orders = app.MapGroup("").WithTags("Orders");
        orders.MapGet("/orders", List);
        orders.MapGet("/orders/{id:long}", Get);
        orders.MapPost("/orders", Create);
        return orders;
    }

    private static Ok<IReadOnlyList<Order>> List(HttpContext context, OrderBook book) =>
        TypedResults.Ok(book.Of(TenantOf(context)));

    private static Results<Ok<Order>, ProblemHttpResult> Get(long id, HttpContext context, OrderBook book) =>
        book.Find(TenantOf(context), id) is { } order
            ? TypedResults.Ok(order)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: $"Order {id} does not exist.");

    private static Results<Created<Order>, ValidationProblem> Create(NewOrder request, HttpContext context, OrderBook book)
    {
        if (string.IsNullOrWhiteSpace(request.Product) || request.Product.Length > MaxProductLength || request.Quantity is < 1 or > 1000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["order"] = [$"product is 1 to {MaxProductLength} characters, quantity 1 to 1000."],
            });
        }

        var order = book.Add(TenantOf(context), request.Product.Trim(), request.Quantity);
        return TypedResults.Created($"/orders/{order.Id}", order);
    }

    // Tollgate's metering put the calling tenant on the request: no endpoint of the group runs without it.
    private static long TenantOf(HttpContext context) =>
        (context.Features.Get<ApiCaller>() ?? throw new InvalidOperationException("/orders must be metered (RequireMetering)."))
        .Tenant.Id;
}
