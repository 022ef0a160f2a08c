using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Tollgate.Data;

internal sealed class WebhookEndpointConfiguration : IEntityTypeConfiguration<WebhookEndpoint>
{
    public void Configure(EntityTypeBuilder<WebhookEndpoint> b)
    {
        b.ToTable("webhook_endpoints");
        b.Property(e => e.Url).HasMaxLength(WebhookEndpoint.MaxUrlLength);
        b.Property(e => e.Events).HasMaxLength(200);
        b.Property(e => e.Secret).HasMaxLength(64);
        b.Property(e => e.DisabledReason).HasMaxLength(200);
        b.HasIndex(e => e.TenantId);
        b.HasOne<Tenant>().WithMany().HasForeignKey(e => e.TenantId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class WebhookMessageConfiguration : IEntityTypeConfiguration<WebhookMessage>
{
    public void Configure(EntityTypeBuilder<WebhookMessage> b)
    {
        b.ToTable("webhook_messages");
        b.Property(m => m.WebhookId).HasMaxLength(40);
        b.Property(m => m.EventType).HasMaxLength(64);
        b.Property(m => m.LeaseOwner).HasMaxLength(32);
        b.HasIndex(m => m.WebhookId).IsUnique();
        // One message per alert and endpoint, whichever instance fans the alert out (NULLs, the test events, are distinct).
        b.HasIndex(m => new { m.EndpointId, m.AlertId }).IsUnique();
        // The dispatcher's poll: pending messages by due time.
        b.HasIndex(m => new { m.Status, m.NextAttemptAt });
        b.HasOne<WebhookEndpoint>().WithMany().HasForeignKey(m => m.EndpointId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class WebhookAttemptConfiguration : IEntityTypeConfiguration<WebhookAttempt>
{
    public void Configure(EntityTypeBuilder<WebhookAttempt> b)
    {
        b.ToTable("webhook_attempts");
        b.Property(a => a.Error).HasMaxLength(WebhookAttempt.MaxErrorLength);
        b.HasIndex(a => a.MessageId);
        b.HasOne<WebhookMessage>().WithMany().HasForeignKey(a => a.MessageId).OnDelete(DeleteBehavior.Cascade);
    }
}
