using System.Text.Json;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>Adds audit entries to the same unit of work as the change they describe, so both commit or neither.</summary>
internal static class AuditTrail
{
    public static void Add(
        TollgateDbContext db, TimeProvider time, AdminScope actor, string action, string target, long? tenantId, object? details = null)
    {
        db.AuditLog.Add(new AuditEntry
        {
            Timestamp = time.GetUtcNow().UtcDateTime,
            Actor = actor.Username,
            Action = action,
            Target = target,
            TenantId = tenantId,
            Details = details is null ? null : JsonSerializer.Serialize(details, JsonSerializerOptions.Web),
        });
    }
}
