namespace Tollgate.Admin;

/// <summary>Authorization policy names of the admin side.</summary>
public static class AdminPolicies
{
    /// <summary>
    /// Any signed-in admin for reads; a state-changing method (POST, PUT, PATCH, DELETE) also needs a role that may
    /// change things, so a viewer gets 403 on every such route, including ones added later.
    /// </summary>
    public const string Admin = "admin";

    /// <summary>Super admins only.</summary>
    public const string SuperAdmin = "super-admin";

    /// <summary>Any signed-in admin, whatever the method: what every admin may do to its own account.</summary>
    public const string SignedIn = "signed-in";
}
