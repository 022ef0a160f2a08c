using System.ComponentModel.DataAnnotations;

namespace Tollgate.Admin;

/// <summary>Options bound from <c>Tollgate:Admin:Session</c>: how long an admin session lasts.</summary>
public sealed class AdminSessionOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Admin:Session";

    /// <summary>A session without a request for this long ends. Default: 2 hours.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "7.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromHours(2);

    /// <summary>A session ends this long after login, however active. Default: 12 hours.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan AbsoluteLifetime { get; set; } = TimeSpan.FromHours(12);
}
