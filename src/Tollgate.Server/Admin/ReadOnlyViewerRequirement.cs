using Microsoft.AspNetCore.Authorization;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>
/// Fails a viewer's state-changing request. Part of the <see cref="AdminPolicies.Admin"/> policy that the whole
/// <c>/api/admin</c> group requires, so a new route is read-only for viewers without anyone remembering to say so.
/// </summary>
internal sealed class ReadOnlyViewerRequirement : AuthorizationHandler<ReadOnlyViewerRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ReadOnlyViewerRequirement requirement)
    {
        var http = context.Resource as HttpContext;
        var safe = http is null || HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method)
            || HttpMethods.IsOptions(http.Request.Method);
        if (safe || !context.User.IsInRole(nameof(AdminRole.Viewer)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
