package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/workflow/recipes"
)

func (s *Server) recipeRoutes(api *gin.RouterGroup) {
	api.GET("/recipes", s.handle(s.listRecipes))
	api.POST("/recipes/:name/install", s.handle(s.installRecipe))
}

func (s *Server) listRecipes(c *gin.Context) error {
	// A handful of recipes: one page, in the list shape every resource uses.
	list := recipes.List()
	return okList(c, models.List[recipes.Recipe]{Items: list, Total: int64(len(list)), Page: models.Page{Page: 1, Size: len(list)}})
}

// installRecipe creates a recipe's workflow: {"key", "channel", "to"} → 201 with the workflow,
// its webhook URL and, this once, its credential.
func (s *Server) installRecipe(c *gin.Context) error {
	body, err := bodyObject(c)
	if err != nil {
		return err
	}
	var in recipes.Input
	errs := problem.Fields{}
	for k, v := range body {
		switch k {
		case "key", "channel":
			str, isStr := v.(string)
			if !isStr {
				errs.Add(k, "must be a string")
			}
			if k == "key" {
				in.Key = str
			} else {
				in.Channel = str
			}
		case "to":
			in.To = v
		default:
			errs.Add(k, "unknown field: the body is {\"key\", \"channel\", \"to\"}")
		}
	}
	if len(errs) > 0 {
		return problem.Invalid(errs)
	}
	out, err := recipes.Install(c.Request.Context(), s.workflows.CreateWorkflow, c.Param("name"), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, out)
}
