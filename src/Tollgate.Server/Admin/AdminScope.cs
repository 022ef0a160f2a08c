using System.Globalization;
using System.Security.Claims;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>
/// What the signed-in admin may see: everything (super admin, viewer of every tenant) or one tenant (tenant admin,
/// viewer of one tenant).
/// </summary>
/// <param name="Username">The admin's user name, for the audit log.</param>
/// <param name="Role">The admin's role.</param>
/// <param name="TenantId">The tenant of a tenant admin or one-tenant viewer.</param>
/// <param name="AdminId">The admin's id (0 for the system itself).</param>
public sealed record AdminScope(string Username, AdminRole Role, long? TenantId, long AdminId = 0)
{
    /// <summary>Claim type of the tenant id of a tenant admin.</summary>
    public const string TenantClaim = "tollgate:tenant";

    /// <summary>Whether this is a super admin.</summary>
    public bool IsSuperAdmin => Role == AdminRole.SuperAdmin;

    /// <summary>Whether the admin may see the tenant.</summary>
    public bool CanSee(long tenantId) => SeesAllTenants || TenantId == tenantId;

    /// <summary>Whether the admin sees every tenant: a super admin, or a viewer without a tenant.</summary>
    public bool SeesAllTenants => IsSuperAdmin || (Role == AdminRole.Viewer && TenantId is null);

    /// <summary>Whether the admin may change anything at all (viewers may not).</summary>
    public bool CanChange => Role != AdminRole.Viewer;

    /// <summary>Reads the scope from the session's claims.</summary>
    public static AdminScope From(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        // A role that does not parse gets the least a session can have: read-only.
        var role = Enum.TryParse<AdminRole>(user.FindFirstValue(ClaimTypes.Role), out var r) ? r : AdminRole.Viewer;
        var tenant = long.TryParse(user.FindFirstValue(TenantClaim), NumberStyles.None, CultureInfo.InvariantCulture, out var t)
            ? t
            : (long?)null;
        var id = long.TryParse(user.FindFirstValue(ClaimTypes.NameIdentifier), NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : 0;
        return new AdminScope(user.Identity?.Name ?? "?", role, tenant, id);
    }

    /// <summary>The claims of a session for an admin.</summary>
    public static ClaimsPrincipal PrincipalFor(Data.Admin admin, string scheme)
    {
        ArgumentNullException.ThrowIfNull(admin);
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, admin.Id.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, admin.Username),
            new(ClaimTypes.Role, admin.Role.ToString()),
        };
        if (admin.TenantId is { } tenantId)
        {
            claims.Add(new Claim(TenantClaim, tenantId.ToString(CultureInfo.InvariantCulture)));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }
}
