package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
	"github.com/wecomflow/wecomflow/workflow/recipes"
)

// recipePage is a recipe and its install form; Installed is the answer to an install, the one
// page that shows the credential.
type recipePage struct {
	Recipe    recipes.Recipe
	Channels  []service.Channel
	Installed *recipes.Installed
}

func (u *UI) recipeList(c *gin.Context) error {
	lang := u.language(c)
	list := recipes.List()
	shown := make([]recipes.Recipe, len(list))
	for i, r := range list {
		shown[i] = r.In(lang)
	}
	u.render(c, http.StatusOK, "recipes", shown)
	return nil
}

// recipeData reads the recipe of :name and the channels its form offers.
func (u *UI) recipeData(c *gin.Context) (recipePage, error) {
	r, ok := recipes.Get(c.Param("name"))
	if !ok {
		return recipePage{}, problem.Errorf(problem.CodeNotFound, "There is no recipe %q.", c.Param("name"))
	}
	channels, err := u.d.Service.ListChannels(c.Request.Context(), "", 0, models.Page{Size: 200})
	if err != nil {
		return recipePage{}, err
	}
	return recipePage{Recipe: r.In(u.language(c)), Channels: channels.Items}, nil
}

func (u *UI) recipe(c *gin.Context) error {
	data, err := u.recipeData(c)
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "recipe", &view{Data: data, Form: map[string]string{"key": data.Recipe.Name}})
	return nil
}

// installRecipe creates the recipe's workflow and answers with its URL, credential and set-up
// text, on this page only: not in a redirect or a cookie, and the page is not stored.
func (u *UI) installRecipe(c *gin.Context) error {
	data, err := u.recipeData(c)
	if err != nil {
		return err
	}
	in := recipes.Input{Key: strings.TrimSpace(c.PostForm("key")), Channel: c.PostForm("channel")}
	// The recipients are local userids, as a workflow's to.users; a robot's group needs none.
	if users := splitIDs(c.PostForm("to")); len(users) > 0 {
		in.To = map[string]any{"users": users}
	}
	out, err := recipes.Install(c.Request.Context(), u.d.Workflows.CreateWorkflow, data.Recipe.Name, in)
	if err != nil {
		return u.formError(c, "recipe", recipeFieldErrors(err), data)
	}
	data.Installed = &out
	c.Header("Cache-Control", "no-store")
	u.renderView(c, http.StatusCreated, "recipe", &view{Data: data})
	return nil
}

// recipeFieldErrors puts the errors of the recipients ("to.users[0]") on the form's one field.
func recipeFieldErrors(err error) error {
	se, ok := err.(*problem.Error)
	if !ok || len(se.Fields) == 0 {
		return err
	}
	fields := foldFieldErrors(se, func(path string) string {
		if strings.HasPrefix(path, "to.") || strings.HasPrefix(path, "to[") {
			return "to"
		}
		return path
	})
	return &problem.Error{Code: se.Code, Message: se.Message, Fields: fields, Err: se.Err}
}
