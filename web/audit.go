package web

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/service"
)

// auditPage is the audit log's data.
type auditPage struct {
	List models.List[service.AuditEntry]
	Base string
}

// audit shows the audit log, newest first, filtered as GET /api/v1/audit is; a filter the
// service refuses is marked on its field.
func (u *UI) audit(c *gin.Context) error {
	q := service.AuditQuery{Actor: strings.TrimSpace(c.Query("actor")), Action: strings.TrimSpace(c.Query("action")),
		TargetType: strings.TrimSpace(c.Query("targetType")), Since: u.filterTime(c, c.Query("since")), Until: u.filterTime(c, c.Query("until"))}
	list, err := u.d.Service.ListAudit(c.Request.Context(), q, pageOf(c))
	return u.renderList(c, "audit", auditPage{List: list, Base: listBase(c, "actor", "action", "targetType", "since", "until")}, err)
}
