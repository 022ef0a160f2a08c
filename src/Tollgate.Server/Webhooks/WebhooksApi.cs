using Microsoft.AspNetCore.Http.HttpResults;
using Tollgate.Admin;
using Tollgate.Alerts;

namespace Tollgate.Webhooks;

/// <summary>
/// <c>/api/admin/webhooks</c> (CONTRACT §9), <c>/api/admin/alerts</c> (the overview's alert) and
/// <c>/api/admin/tenants/{id}/alert-thresholds</c>. A tenant admin manages its own tenant's endpoints and sees no
/// other (another's is 404, as everywhere); a viewer reads; endpoints of every tenant (no tenant) are super admins'.
/// </summary>
internal static class WebhooksApi
{
    /// <summary>Most deliveries listed at once.</summary>
    private const int MaxDeliveries = 100;

    public static void Map(RouteGroupBuilder admin)
    {
        var webhooks = admin.MapGroup("/webhooks").WithTags("Webhooks");
        webhooks.MapGet("", ListAsync);
        webhooks.MapGet("/{id:long}", GetAsync);
        webhooks.MapPost("", CreateAsync);
        webhooks.MapPatch("/{id:long}", PatchAsync);
        webhooks.MapDelete("/{id:long}", DeleteAsync);
        webhooks.MapPost("/{id:long}/test", TestAsync);
        webhooks.MapGet("/{id:long}/deliveries", DeliveriesAsync);
        admin.MapGet("/alerts", AlertsAsync).WithTags("Webhooks");
        admin.MapPut("/tenants/{id:long}/alert-thresholds", SetThresholdsAsync).WithTags("Tenants").RequireAuthorization(AdminPolicies.SuperAdmin);
    }

    private static async Task<Ok<List<WebhookDto>>> ListAsync(HttpContext http, WebhookRegistry registry, CancellationToken ct) =>
        TypedResults.Ok((await registry.ListAsync(AdminScope.From(http.User), ct)).Select(WebhookDto.From).ToList());

    private static async Task<Results<Ok<WebhookDto>, ProblemHttpResult>> GetAsync(long id, HttpContext http, WebhookRegistry registry, CancellationToken ct) =>
        await registry.FindAsync(AdminScope.From(http.User), id, ct) is { } endpoint
            ? TypedResults.Ok(WebhookDto.From(endpoint))
            : AdminValidation.NotFound($"Webhook {id}");

    private static async Task<Results<Created<CreatedWebhookDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateWebhookRequest request, HttpContext http, WebhookRegistry registry, NetworkGuard guard, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        // A tenant admin's endpoints are its tenant's: the tenant may be left out, and no other (every tenant's included) is its to make.
        var tenantId = scope.SeesAllTenants ? request.TenantId : request.TenantId ?? scope.TenantId;
        if (!scope.SeesAllTenants && tenantId != scope.TenantId)
        {
            return request.TenantId is null
                ? AdminValidation.Forbidden("Only super admins add webhooks for every tenant.")
                : AdminValidation.NotFound($"Tenant {request.TenantId}");
        }

        var errors = new Dictionary<string, string[]>();
        var url = await UrlAsync(request.Url, guard, errors, ct);
        var events = Events(request.Events ?? [WebhookEvents.QuotaThreshold], errors);
        if (tenantId is { } t && !await registry.TenantExistsAsync(t, ct))
        {
            errors["tenantId"] = [$"Tenant {t} does not exist."];
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        var endpoint = await registry.CreateAsync(scope, url!, tenantId, events, ct);
        return TypedResults.Created($"/api/admin/webhooks/{endpoint.Id}",
            new CreatedWebhookDto(endpoint.Id, endpoint.Url, endpoint.TenantId, events, endpoint.Secret, endpoint.Enabled, endpoint.CreatedAt));
    }

    private static async Task<Results<Ok<WebhookDto>, ValidationProblem, ProblemHttpResult>> PatchAsync(
        long id, PatchWebhookRequest request, HttpContext http, WebhookRegistry registry, NetworkGuard guard, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        var endpoint = await registry.FindAsync(scope, id, ct);
        if (endpoint is null)
        {
            return AdminValidation.NotFound($"Webhook {id}");
        }

        var errors = new Dictionary<string, string[]>();
        if (request.Url is not null)
        {
            endpoint.Url = await UrlAsync(request.Url, guard, errors, ct) ?? endpoint.Url;
        }

        if (request.Events is not null)
        {
            endpoint.Events = string.Join(",", Events(request.Events, errors));
        }

        if (request.Enabled is { } enabled)
        {
            endpoint.Enabled = enabled;
            endpoint.DisabledReason = enabled ? null : "Turned off by an admin.";
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        await registry.UpdateAsync(scope, endpoint, ct);
        return TypedResults.Ok(WebhookDto.From(endpoint));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(long id, HttpContext http, WebhookRegistry registry, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        if (await registry.FindAsync(scope, id, ct) is not { } endpoint)
        {
            return AdminValidation.NotFound($"Webhook {id}");
        }

        await registry.DeleteAsync(scope, endpoint, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Accepted<WebhookTestDto>, ProblemHttpResult>> TestAsync(
        long id, HttpContext http, WebhookRegistry registry, WebhookDispatcher dispatcher, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        if (await registry.FindAsync(scope, id, ct) is not { } endpoint)
        {
            return AdminValidation.NotFound($"Webhook {id}");
        }

        var message = await registry.QueueTestAsync(scope, endpoint, ct);
        dispatcher.Wake();
        return TypedResults.Accepted($"/api/admin/webhooks/{id}/deliveries", new WebhookTestDto(message.WebhookId));
    }

    private static async Task<Results<Ok<List<WebhookDeliveryDto>>, ProblemHttpResult>> DeliveriesAsync(
        long id, HttpContext http, WebhookRegistry registry, CancellationToken ct) =>
        await registry.FindAsync(AdminScope.From(http.User), id, ct) is null
            ? AdminValidation.NotFound($"Webhook {id}")
            : TypedResults.Ok(await registry.DeliveriesAsync(id, MaxDeliveries, ct));

    private static async Task<Ok<List<QuotaAlertDto>>> AlertsAsync(HttpContext http, WebhookRegistry registry, CancellationToken ct) =>
        TypedResults.Ok(await registry.CurrentAlertsAsync(AdminScope.From(http.User), ct));

    private static async Task<Results<Ok<TenantAlertThresholdsDto>, ValidationProblem, ProblemHttpResult>> SetThresholdsAsync(
        long id, TenantAlertThresholdsRequest request, HttpContext http, WebhookRegistry registry, IChangeFeed changes, CancellationToken ct)
    {
        if (request.AlertThresholds is { } given && QuotaThresholds.Problem(given) is { } problem)
        {
            return AdminValidation.Problem(new Dictionary<string, string[]> { ["alertThresholds"] = [problem] });
        }

        var thresholds = request.AlertThresholds is null ? null : QuotaThresholds.Normalize(request.AlertThresholds);
        var tenant = await registry.SetTenantThresholdsAsync(AdminScope.From(http.User), id, thresholds, ct);
        if (tenant is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        await changes.TenantChangedAsync(id, ct);
        return TypedResults.Ok(new TenantAlertThresholdsDto(id, thresholds ?? tenant.Plan!.AlertThresholds, thresholds is not null));
    }

    private static async Task<string?> UrlAsync(string? value, NetworkGuard guard, Dictionary<string, string[]> errors, CancellationToken ct)
    {
        var text = value?.Trim();
        if (string.IsNullOrEmpty(text) || text.Length > Data.WebhookEndpoint.MaxUrlLength
            || !Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.UserInfo))
        {
            errors["url"] = [$"An absolute http or https URL of at most {Data.WebhookEndpoint.MaxUrlLength} characters, without user info, is required."];
            return null;
        }

        if (await guard.ProblemAsync(url, ct) is { } problem)
        {
            errors["url"] = [problem];
            return null;
        }

        return url.AbsoluteUri;
    }

    private static string[] Events(IReadOnlyList<string> events, Dictionary<string, string[]> errors)
    {
        var distinct = events.Distinct(StringComparer.Ordinal).ToArray();
        if (distinct.Length == 0 || distinct.Any(e => !WebhookEvents.Subscribable.Contains(e, StringComparer.Ordinal)))
        {
            errors["events"] = [$"Give one or more of: {string.Join(", ", WebhookEvents.Subscribable)}."];
        }

        return distinct;
    }
}
