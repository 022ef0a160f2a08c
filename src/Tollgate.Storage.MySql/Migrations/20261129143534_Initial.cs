using System;
using Microsoft.EntityFrameworkCore.Migrations;
using MySql.EntityFrameworkCore.Metadata;

#nullable disable

namespace Tollgate.Data.Migrations.MySql
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterDatabase()
                .Annotation("MySQL:Charset", "utf8mb4");

            // Written by hand: MySql.EntityFrameworkCore drops the model's character sets and collations from the SQL
            // it generates. As the database's default, utf8mb4_bin reaches every table created from here on, in this
            // migration and in later ones (see MySqlTollgateDbContext.Collation; MigrationTests checks every column).
            migrationBuilder.Sql("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;");

            migrationBuilder.CreateTable(
                name: "audit_log",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("MySQL:ValueGenerationStrategy", MySQLValueGenerationStrategy.IdentityColumn),
                    timestamp = table.Column<DateTime>(type: "datetime(6)", nullable: false),
                    actor = table.Column<string>(type: "varchar(100)", maxLength: 100, nullable: false),
                    action = table.Column<string>(type: "varchar(64)", maxLength: 64, nullable: false),
                    target = table.Column<string>(type: "varchar(100)", maxLength: 100, nullable: false),
                    tenant_id = table.Column<long>(type: "bigint", nullable: true),
                    details = table.Column<string>(type: "longtext", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_audit_log", x => x.id);
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateTable(
                name: "plans",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("MySQL:ValueGenerationStrategy", MySQLValueGenerationStrategy.IdentityColumn),
                    name = table.Column<string>(type: "varchar(100)", maxLength: 100, nullable: false),
                    quota_limit = table.Column<long>(type: "bigint", nullable: false),
                    quota_period = table.Column<string>(type: "varchar(16)", maxLength: 16, nullable: false),
                    rate_limit = table.Column<int>(type: "int", nullable: true),
                    rate_window_seconds = table.Column<int>(type: "int", nullable: true),
                    created_at = table.Column<DateTime>(type: "datetime(6)", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_plans", x => x.id);
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateTable(
                name: "quota_counters",
                columns: table => new
                {
                    tenant_id = table.Column<long>(type: "bigint", nullable: false),
                    period = table.Column<string>(type: "varchar(16)", maxLength: 16, nullable: false),
                    period_start = table.Column<DateTime>(type: "datetime(6)", nullable: false),
                    used = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_quota_counters", x => new { x.tenant_id, x.period, x.period_start });
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateTable(
                name: "usage_logs",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("MySQL:ValueGenerationStrategy", MySQLValueGenerationStrategy.IdentityColumn),
                    tenant_id = table.Column<long>(type: "bigint", nullable: false),
                    api_key_id = table.Column<long>(type: "bigint", nullable: false),
                    timestamp = table.Column<DateTime>(type: "datetime(6)", nullable: false),
                    method = table.Column<string>(type: "varchar(8)", maxLength: 8, nullable: false),
                    endpoint = table.Column<string>(type: "varchar(200)", maxLength: 200, nullable: false),
                    status_code = table.Column<int>(type: "int", nullable: false),
                    latency_micros = table.Column<long>(type: "bigint", nullable: false),
                    outcome = table.Column<string>(type: "varchar(16)", maxLength: 16, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_logs", x => x.id);
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateTable(
                name: "usage_rollups",
                columns: table => new
                {
                    tenant_id = table.Column<long>(type: "bigint", nullable: false),
                    bucket_start = table.Column<DateTime>(type: "datetime(6)", nullable: false),
                    method = table.Column<string>(type: "varchar(8)", maxLength: 8, nullable: false),
                    endpoint = table.Column<string>(type: "varchar(200)", maxLength: 200, nullable: false),
                    status_code = table.Column<int>(type: "int", nullable: false),
                    outcome = table.Column<string>(type: "varchar(16)", maxLength: 16, nullable: false),
                    count = table.Column<long>(type: "bigint", nullable: false),
                    latency_sum_micros = table.Column<long>(type: "bigint", nullable: false),
                    le_100ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_100us = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_10ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_10s = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_1ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_1s = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_250ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_250us = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_25ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_2_5ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_2_5s = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_500ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_500us = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_50ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_50us = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_5ms = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_5s = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L),
                    le_inf = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_rollups", x => new { x.tenant_id, x.bucket_start, x.method, x.endpoint, x.status_code, x.outcome });
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateTable(
                name: "tenants",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("MySQL:ValueGenerationStrategy", MySQLValueGenerationStrategy.IdentityColumn),
                    name = table.Column<string>(type: "varchar(100)", maxLength: 100, nullable: false),
                    plan_id = table.Column<long>(type: "bigint", nullable: false),
                    status = table.Column<string>(type: "varchar(16)", maxLength: 16, nullable: false),
                    quota_override_limit = table.Column<long>(type: "bigint", nullable: true),
                    quota_override_period = table.Column<string>(type: "varchar(16)", maxLength: 16, nullable: true),
                    rate_override_limit = table.Column<int>(type: "int", nullable: true),
                    rate_override_window_seconds = table.Column<int>(type: "int", nullable: true),
                    created_at = table.Column<DateTime>(type: "datetime(6)", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tenants", x => x.id);
                    table.ForeignKey(
                        name: "fk_tenants_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateTable(
                name: "admins",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("MySQL:ValueGenerationStrategy", MySQLValueGenerationStrategy.IdentityColumn),
                    username = table.Column<string>(type: "varchar(100)", maxLength: 100, nullable: false),
                    password_hash = table.Column<string>(type: "longtext", nullable: false),
                    role = table.Column<string>(type: "varchar(16)", maxLength: 16, nullable: false),
                    tenant_id = table.Column<long>(type: "bigint", nullable: true),
                    created_at = table.Column<DateTime>(type: "datetime(6)", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_admins", x => x.id);
                    table.ForeignKey(
                        name: "fk_admins_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateTable(
                name: "api_keys",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("MySQL:ValueGenerationStrategy", MySQLValueGenerationStrategy.IdentityColumn),
                    tenant_id = table.Column<long>(type: "bigint", nullable: false),
                    name = table.Column<string>(type: "varchar(100)", maxLength: 100, nullable: false),
                    hash = table.Column<byte[]>(type: "varbinary(32)", maxLength: 32, nullable: false),
                    start = table.Column<string>(type: "varchar(16)", maxLength: 16, nullable: false),
                    created_at = table.Column<DateTime>(type: "datetime(6)", nullable: false),
                    last_used_at = table.Column<DateTime>(type: "datetime(6)", nullable: true),
                    expires_at = table.Column<DateTime>(type: "datetime(6)", nullable: true),
                    revoked_at = table.Column<DateTime>(type: "datetime(6)", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_api_keys", x => x.id);
                    table.ForeignKey(
                        name: "fk_api_keys_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateTable(
                name: "users",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("MySQL:ValueGenerationStrategy", MySQLValueGenerationStrategy.IdentityColumn),
                    tenant_id = table.Column<long>(type: "bigint", nullable: false),
                    username = table.Column<string>(type: "varchar(254)", maxLength: 254, nullable: false),
                    created_at = table.Column<DateTime>(type: "datetime(6)", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_users", x => x.id);
                    table.ForeignKey(
                        name: "fk_users_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                })
                .Annotation("MySQL:Charset", "utf8mb4");

            migrationBuilder.CreateIndex(
                name: "ix_admins_tenant_id",
                table: "admins",
                column: "tenant_id");

            migrationBuilder.CreateIndex(
                name: "ix_admins_username",
                table: "admins",
                column: "username",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_hash",
                table: "api_keys",
                column: "hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_tenant_id",
                table: "api_keys",
                column: "tenant_id");

            migrationBuilder.CreateIndex(
                name: "ix_audit_log_timestamp",
                table: "audit_log",
                column: "timestamp");

            migrationBuilder.CreateIndex(
                name: "ix_plans_name",
                table: "plans",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_tenants_name",
                table: "tenants",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_tenants_plan_id",
                table: "tenants",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_usage_logs_tenant_id_timestamp",
                table: "usage_logs",
                columns: new[] { "tenant_id", "timestamp" });

            migrationBuilder.CreateIndex(
                name: "ix_usage_rollups_bucket_start",
                table: "usage_rollups",
                column: "bucket_start");

            migrationBuilder.CreateIndex(
                name: "ix_users_tenant_id_username",
                table: "users",
                columns: new[] { "tenant_id", "username" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "admins");

            migrationBuilder.DropTable(
                name: "api_keys");

            migrationBuilder.DropTable(
                name: "audit_log");

            migrationBuilder.DropTable(
                name: "quota_counters");

            migrationBuilder.DropTable(
                name: "usage_logs");

            migrationBuilder.DropTable(
                name: "usage_rollups");

            migrationBuilder.DropTable(
                name: "users");

            migrationBuilder.DropTable(
                name: "tenants");

            migrationBuilder.DropTable(
                name: "plans");
        }
    }
}
