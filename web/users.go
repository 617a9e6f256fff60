package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

// importLimit is the largest spreadsheet the import page takes, as the REST API's upload routes.
const importLimit = 10 << 20

// usersPage is the user list's data.
type usersPage struct {
	List    models.List[service.User]
	Sources []string
	// Base is the list's URL with its filters, for the pager.
	Base string
}

func (u *UI) users(c *gin.Context) error {
	q, source := strings.TrimSpace(c.Query("q")), c.Query("source")
	list, err := u.d.Service.ListUsers(c.Request.Context(), service.UserFilter{Q: q, Source: source}, pageOf(c))
	if err != nil {
		return err
	}
	base := "?" + url.Values{"q": {q}, "source": {source}}.Encode() + "&"
	u.renderView(c, http.StatusOK, "users", &view{Data: usersPage{List: list, Sources: service.UserSources(), Base: base},
		Form: map[string]string{"q": q, "source": source}})
	return nil
}

// userPage is the user form's data.
type userPage struct {
	User *service.User
}

func (u *UI) newUser(c *gin.Context) error {
	u.renderView(c, http.StatusOK, "user", &view{Data: userPage{}})
	return nil
}

func (u *UI) createUser(c *gin.Context) error {
	usr, err := u.d.Service.CreateUser(c.Request.Context(), userInput(c))
	if err != nil {
		return u.formError(c, "user", nameConflict(err, "userid"), userPage{})
	}
	return u.redirect(c, fmt.Sprintf("/ui/users/%d", usr.ID), "flash.saved")
}

func (u *UI) editUser(c *gin.Context) error {
	usr, err := u.user(c)
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "user", &view{Data: userPage{User: &usr}, Form: userForm(usr)})
	return nil
}

func (u *UI) updateUser(c *gin.Context) error {
	usr, err := u.user(c)
	if err != nil {
		return err
	}
	if _, err := u.d.Service.UpdateUser(c.Request.Context(), usr.ID, userInput(c)); err != nil {
		return u.formError(c, "user", nameConflict(err, "userid"), userPage{User: &usr})
	}
	return u.redirect(c, fmt.Sprintf("/ui/users/%d", usr.ID), "flash.saved")
}

func (u *UI) deleteUser(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := u.d.Service.DeleteUser(c.Request.Context(), id); err != nil {
		return err
	}
	return u.redirect(c, "/ui/users", "flash.deleted")
}

func (u *UI) user(c *gin.Context) (service.User, error) {
	id, err := idParam(c)
	if err != nil {
		return service.User{}, err
	}
	return u.d.Service.GetUser(c.Request.Context(), id)
}

// userForm is a stored user as form values, named by their API paths.
func userForm(usr service.User) map[string]string {
	return map[string]string{"userid": usr.UserID, "name": usr.Name, "mobile": usr.Mobile, "email": usr.Email,
		"bindings.wechatwk": usr.Bindings["wechatwk"]}
}

// userInput reads the user form; every field is sent, so an emptied field is cleared.
func userInput(c *gin.Context) service.UserInput {
	str := func(k string) *string { v := strings.TrimSpace(c.PostForm(k)); return &v }
	return service.UserInput{UserID: str("userid"), Name: str("name"), Mobile: str("mobile"), Email: str("email"),
		Bindings: map[string]string{"wechatwk": *str("bindings.wechatwk")}}
}

// importPageData is the import page's data: the result once a file was imported.
type importPageData struct {
	Filename string
	Result   *service.BulkResult
}

func (u *UI) importPage(c *gin.Context) error {
	u.render(c, http.StatusOK, "users_import", importPageData{})
	return nil
}

// importUsers reads the uploaded spreadsheet (multipart field "file") and shows what became of
// each row, as POST /api/v1/users/import does.
func (u *UI) importUsers(c *gin.Context) error {
	fh, err := c.FormFile("file")
	if err != nil {
		return u.importFileError(c, "user.import.fileRequired")
	}
	if fh.Size > importLimit {
		return u.importFileError(c, "user.import.tooLarge")
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, importLimit+1))
	if err != nil {
		return err
	}
	res, err := u.d.Service.ImportUsers(c.Request.Context(), fh.Filename, content)
	if err != nil {
		return u.formError(c, "users_import", err, importPageData{Filename: fh.Filename})
	}
	u.render(c, http.StatusOK, "users_import", importPageData{Filename: fh.Filename, Result: &res})
	return nil
}

// importFileError shows the import page again with a problem of the upload itself (a catalogue
// key) next to the file input.
func (u *UI) importFileError(c *gin.Context, key string) error {
	u.renderView(c, http.StatusUnprocessableEntity, "users_import", &view{Data: importPageData{},
		Errors: problem.Fields{"file": u.cat.text(u.language(c), key)}})
	return nil
}

// ImportTemplate serves the empty user import file (?format=xlsx or csv): the same download for
// the page and for the API.
func ImportTemplate(c *gin.Context) error {
	content, ctype, name, err := service.ImportTemplate(c.Query("format"))
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Data(http.StatusOK, ctype, content)
	return nil
}
