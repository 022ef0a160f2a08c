using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Tollgate.Admin;

/// <summary>
/// The live table (<c>/api/dashboard-data</c>) and its push stream (<c>/api/admin/stream</c>). Built from memory
/// only — the tenant directory, the limit store and the live counters, taken by <see cref="LiveBoard"/> — so its
/// cost does not grow with history. Asked with view parameters (<c>limit</c>, <c>offset</c>, <c>sort</c>, <c>dir</c>,
/// <c>status</c>, <c>q</c>, <c>plan</c>) both answer one page, filtered and ordered on the server, with totals over
/// every tenant the admin sees; the stream then sends that page once and afterwards only what changed in it.
/// </summary>
internal static class DashboardApi
{
    // Twice a second, so a change shows within one second however the timers line up.
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(500);

    // A stream takes the frame another viewer took up to this long ago: viewers' timers are not aligned, and this
    // keeps the whole table's pass at about one per tick however many watch.
    private static readonly TimeSpan SharedFrameAge = TimeSpan.FromMilliseconds(400);

    /// <summary>Maps <c>/api/dashboard-data</c> and the stream on the admin group.</summary>
    public static void Map(IEndpointRouteBuilder routes, RouteGroupBuilder admin)
    {
        routes.MapGet("/api/dashboard-data", GetAsync).RequireAuthorization(AdminPolicies.Admin).WithTags("Dashboard")
            .WithSummary("The live table of tenants, whole or one page of a view")
            .WithDescription(
                "Without parameters: every tenant the admin may see, by name ({generatedAt, tenants, storage}). With any of " +
                "limit, offset, sort, dir, status, q, plan: one page, filtered and ordered on the server, with totals over " +
                "every tenant the admin may see ({generatedAt, tenants, storage, totals, matched, offset, limit, sort, dir, sequence}). " +
                "The default order puts the tenants that need attention first: Blocked, then Warning, then by share of the quota used.")
            .Produces<DashboardPageDto>(StatusCodes.Status200OK);
        admin.MapGet("/stream", Stream).WithTags("Dashboard")
            .WithSummary("The live table pushed as Server-Sent Events, twice a second")
            .WithDescription(
                "Without parameters: 'snapshot' events carrying the whole table. With the view parameters of /api/dashboard-data: " +
                "a 'page' event with the page and the totals, then a 'delta' event per tick with what changed since the previous " +
                "event (order: the page's ids when its members or order changed; rows: rows new or changed; totals, matched, " +
                "storage: when changed).");
    }

    private static async Task<Results<Ok<DashboardDto>, Ok<DashboardPageDto>, ValidationProblem>> GetAsync(
        HttpContext http, LiveBoard board,
        [AsParameters] DashboardViewParameters parameters, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        if (!DashboardView.IsAsked(http.Request.Query))
        {
            var whole = await board.FrameAsync(TimeSpan.Zero, ct);
            return TypedResults.Ok(new DashboardDto(whole.GeneratedAt, whole.Visible(scope), whole.Storage));
        }

        var errors = new Dictionary<string, string[]>();
        var view = parameters.Parse(errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        var frame = await board.FrameAsync(TimeSpan.Zero, ct);
        return TypedResults.Ok(frame.PageOf(scope, view).ToDto());
    }

    private static Results<ServerSentEventsResult<DashboardDto>, ServerSentEventsResult<string>, ValidationProblem> Stream(
        HttpContext http, LiveBoard board, TimeProvider time, IHostApplicationLifetime lifetime, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json,
        [AsParameters] DashboardViewParameters parameters)
    {
        var scope = AdminScope.From(http.User);
        DashboardView? view = null;
        if (DashboardView.IsAsked(http.Request.Query))
        {
            var errors = new Dictionary<string, string[]>();
            view = parameters.Parse(errors);
            if (errors.Count > 0)
            {
                return AdminValidation.Problem(errors);
            }
        }

        // The stream ends when the client goes or the server starts stopping, so an open dashboard never holds up
        // a graceful stop.
        var ended = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        http.Response.RegisterForDispose(ended);
        return view is null
            ? TypedResults.ServerSentEvents(Snapshots(scope, board, time, ended.Token), "snapshot")
            : TypedResults.ServerSentEvents(Pages(scope, view, board, time, json.Value.SerializerOptions, ended.Token));
    }

    private static async IAsyncEnumerable<DashboardDto> Snapshots(
        AdminScope scope, LiveBoard board, TimeProvider time, [EnumeratorCancellation] CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Tick, time);
        do
        {
            LiveFrame frame;
            try
            {
                frame = await board.FrameAsync(SharedFrameAge, ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }

            yield return new DashboardDto(frame.GeneratedAt, frame.Visible(scope), frame.Storage);
        }
        while (await WaitAsync(timer, ct));
    }

    /// <summary>
    /// A page, then per tick what changed in it. The message is made once per view and previous frame, and every
    /// viewer of that view who was sent that frame gets the same string.
    /// </summary>
    private static async IAsyncEnumerable<SseItem<string>> Pages(
        AdminScope scope, DashboardView view, LiveBoard board, TimeProvider time, JsonSerializerOptions json,
        [EnumeratorCancellation] CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Tick, time);
        LivePage? last = null;
        do
        {
            LivePage page;
            try
            {
                page = (await board.FrameAsync(SharedFrameAge, ct)).PageOf(scope, view);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }

            if (last is null)
            {
                yield return new SseItem<string>(page.Frame.MessageFor(scope, view, 0, () => JsonSerializer.Serialize(page.ToDto(), json)), "page");
            }
            else
            {
                var before = last;
                yield return new SseItem<string>(
                    page.Frame.MessageFor(scope, view, before.Frame.Sequence, () => JsonSerializer.Serialize(page.DeltaSince(before), json)), "delta");
            }

            last = page;
        }
        while (await WaitAsync(timer, ct));
    }

    private static async ValueTask<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
