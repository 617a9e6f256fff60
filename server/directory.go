package server

import "github.com/gin-gonic/gin"

// directoryRoutes registers the directory sync and read routes (SPEC §3.1 sync, §3.5).
func (s *Server) directoryRoutes(api *gin.RouterGroup) {}
